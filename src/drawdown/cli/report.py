"""`drawdown report liability`: the prepaid-liability report as a table or CSV."""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime

import typer

from drawdown.cli.options import context
from drawdown.ledger.amounts import format_decimal
from drawdown.services.reports import liability_report

app = typer.Typer(help="Reports for finance.", no_args_is_help=True)

HEADER = (
    "currency", "opening", "opening_value", "granted", "granted_value", "consumed",
    "consumed_value", "expired", "expired_value", "voided", "voided_value", "outstanding",
    "outstanding_value",
)  # fmt: skip
COLUMNS = ("opening", "granted", "consumed", "expired", "voided", "closing")


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from None


@app.command("liability")
def liability(
    start: str = typer.Option(..., "--from", help="First day of the period (YYYY-MM-DD, UTC)"),
    end: str = typer.Option(..., "--to", help="Last day of the period, inclusive"),
    output: str = typer.Option("table", "--format", help="table or csv"),
) -> None:
    """Granted, consumed, expired, voided and outstanding credits, and their cost-basis value."""
    if output not in ("table", "csv"):
        raise typer.BadParameter("must be table or csv", param_hint="--format")
    report = liability_report(context(), _date(start, "--from"), _date(end, "--to"))
    rows: list[list[str] | tuple[str, ...]] = [
        [line.currency] + [format_decimal(x) for c in COLUMNS
                           for x in (line.column(c).credits, line.column(c).value)]
        for line in report.lines
    ]  # fmt: skip
    if output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
        return
    typer.echo(f"Prepaid liability {_day(report.start)} – {_day(report.end)} (end exclusive, UTC)")
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, *rows]:
        cells = zip(row, widths, strict=True)
        typer.echo("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(cells)))


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")
