"""`drawdown verify [--customer ID]`: recompute every hash chain and replay every ledger.

The checks are in `services/verify.py`. Progress goes to stderr, the summary to stdout; the
exit status is 1 when anything does not match, and the first mismatch is named.
"""

from __future__ import annotations

import sys
import time

import typer

from drawdown.cli.options import context
from drawdown.services import verify as service

PROGRESS_SECONDS = 2.0


def verify(
    customer: str = typer.Option(None, help="Verify only this customer's ledgers (by id)"),
) -> None:
    """Recompute every ledger's hash chain, replay its commands and check cash balances;
    exit 1 on a mismatch."""
    ctx = context()
    started = last = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS or done == total:
            print(f"verified {done}/{total} ledgers", file=sys.stderr, flush=True)
            last = now

    started_at = ctx.now()
    report = service.verify(ctx, customer, progress)
    service.record(ctx, report, customer, started_at)
    seconds = time.monotonic() - started
    typer.echo(
        f"{report.ledgers} ledger(s), {report.entries} entries, {report.commands} commands "
        f"checked in {seconds:.1f} s: {len(report.mismatches)} mismatch(es)"
    )
    if report.clean:
        typer.echo("ok: every chain recomputes and every replay matches")
        return
    for mismatch in report.mismatches[:20]:
        typer.echo(f"  {mismatch}")
    typer.echo(f"error: first mismatch: {report.mismatches[0]}", err=True)
    raise typer.Exit(1)
