"""`drawdown backup PATH` (SQLite, safe while serving) and `drawdown export` of a ledger."""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys

import typer

from drawdown.cli.options import context, fail
from drawdown.services import operations
from drawdown.services.errors import ResourceNotFound
from drawdown.services.write_path import CustomerRef


def backup(
    path: str = typer.Argument(..., help="The new file to write the copy to (relative to here)"),
) -> None:
    """Copy the SQLite database to PATH, consistently, while servers keep running.

    PostgreSQL: use pg_dump (the README's Backups section)."""
    target = os.path.abspath(path)  # where the command ran, and said in full
    size = operations.backup(context(), target)
    typer.echo(f"backed up to {target} ({size} bytes)")


def export(
    customer: str = typer.Option(None, "--customer", help="The customer's drawdown id"),
    external_customer_id: str = typer.Option(
        None, "--external-customer-id", help="...or the customer's external id"
    ),
    output: str = typer.Option("csv", "--format", help="csv or jsonl"),
) -> None:
    """Write every ledger entry of one customer (all currencies, newest first) to stdout."""
    if output not in ("csv", "jsonl"):
        raise typer.BadParameter("must be csv or jsonl", param_hint="--format")
    if (customer is None) == (external_customer_id is None):
        raise typer.BadParameter("give --customer ID or --external-customer-id ID")
    ctx = context()
    ref = CustomerRef(id=customer, external_id=external_customer_id)
    rows = operations.export_entries(ctx, ref)
    try:
        first = next(rows, None)
    except ResourceNotFound:
        raise fail(f"no customer {ref.describe()}") from None
    every = itertools.chain(() if first is None else (first,), rows)
    if output == "jsonl":
        for row in every:
            sys.stdout.write(json.dumps(row) + "\n")
        return
    writer = csv.DictWriter(sys.stdout, operations.EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(every)
