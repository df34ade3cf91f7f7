"""`drawdown items …`, `drawdown metrics …`, `drawdown prices …` and `drawdown usage …`: the
price catalogue and usage deductions from the command line (the same use cases as the
console and the API's `items.*`, `metrics.*`, `prices.*`)."""

from __future__ import annotations

from datetime import datetime

import typer

from drawdown.app import build_context
from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant, resolve_instant
from drawdown.ledger.errors import LedgerError
from drawdown.services.errors import ServiceError
from drawdown.services.usage import catalogue, deduct, items, metrics
from drawdown.settings import Settings

items_app = typer.Typer(help="Manage the items usage is priced for.", no_args_is_help=True)
metrics_app = typer.Typer(help="Manage billable metrics (what prices count).",
                          no_args_is_help=True)  # fmt: skip
prices_app = typer.Typer(help="Manage usage prices (credits per unit).", no_args_is_help=True)
usage_app = typer.Typer(help="Deduct priced usage.", no_args_is_help=True)


def _fail(exc: ServiceError | LedgerError) -> typer.Exit:
    typer.echo(f"{exc.field + ': ' if exc.field else ''}{exc.message}", err=True)
    return typer.Exit(1)


@items_app.command("add")
def items_add(
    item_id: str = typer.Argument(..., help="The item's id (what block filters name)"),
    name: str = typer.Option(..., help="A readable name, shown on usage entries"),
) -> None:
    """Add an item."""
    ctx = build_context(Settings.from_env())
    try:
        item = catalogue.add_item(item_id, name).run(ctx)
    except (ServiceError, LedgerError) as exc:
        raise _fail(exc) from None
    typer.echo(f"added item {item.id} ({item.name})")


@items_app.command("list")
def items_list() -> None:
    """List items."""
    for item in catalogue.list_items(build_context(Settings.from_env())):
        created = format_instant(item.created_at, fractions=False)
        archived = item.archived_at
        shown = (
            "" if archived is None else f"  archived {format_instant(archived, fractions=False)}"
        )
        typer.echo(f"{item.id}  {item.name}  created {created}{shown}")


@items_app.command("archive")
def items_archive(item_id: str = typer.Argument(..., help="The item to archive")) -> None:
    """Archive an item: its prices stop pricing usage from now on."""
    ctx = build_context(Settings.from_env())
    try:
        item = items.archive_item(item_id).run(ctx)
    except (ServiceError, LedgerError) as exc:
        raise _fail(exc) from None
    typer.echo(f"archived item {item.id} ({item.name}); its prices end now")


@metrics_app.command("add")
def metrics_add(
    item: str = typer.Option(..., help="The item the metric is for"),
    name: str = typer.Option(..., help="A readable name"),
    sql: str = typer.Option(
        ...,
        help="SELECT COUNT(*) | SUM(property) FROM events WHERE "
        "event_name = '…' [AND property = value …]",
    ),
    description: str = typer.Option(None, help="What it counts"),
) -> None:
    """Add a billable metric (Orb's SQL, in the subset drawdown prices)."""
    ctx = build_context(Settings.from_env())
    fields = {"item_id": item, "name": name, "sql": sql, "description": description}
    try:
        made = metrics.create_metric(ctx, fields).run(ctx)
    except (ServiceError, LedgerError) as exc:
        raise _fail(exc) from None
    typer.echo(f"added metric {made.id}: {made.event_name} {made.metric}{_where(made)} "
               f"for {made.item.id}")  # fmt: skip


def _where(record: metrics.MetricRecord) -> str:
    filters = " AND ".join(f"{k} = {v!r}" for k, v in record.metric.filters)
    return f" where {filters}" if filters else ""


@metrics_app.command("list")
def metrics_list() -> None:
    """List billable metrics, newest first."""
    ctx = build_context(Settings.from_env())
    for m in metrics.list_metrics(ctx, None, [], None, metrics.LIST_ALL_MAX):
        typer.echo(f"{m.id}  {m.status}  {m.item.id}  {m.name}  {m.sql}")


@prices_app.command("add")
def prices_add(
    item: str = typer.Option(..., help="The item the usage draws credits for"),
    event_name: str = typer.Option(None, help="The event name this price applies to"),
    metric: str = typer.Option(None, help="count, or sum:PROPERTY (a numeric property)"),
    billable_metric: str = typer.Option(
        None, help="Instead of --event-name and --metric: a billable metric's id"
    ),
    credits_per_unit: str = typer.Option(..., help="Credits per unit of the metric (a decimal)"),
    currency: str = typer.Option("credits", help="The ledger (pricing unit) usage draws from"),
    effective_from: str = typer.Option(
        None, help="When this version takes effect (ISO 8601, not in the past; default now)"
    ),
) -> None:
    """Add a price, or a new version of the price of (item, event name, filters)."""
    ctx = build_context(Settings.from_env())
    if (billable_metric is None) == (event_name is None or metric is None):
        typer.echo("give --event-name and --metric, or --billable-metric", err=True)
        raise typer.Exit(1)
    try:
        start = _instant(effective_from)
        price = catalogue.add_price(ctx, item_id=item, event_name=event_name or "",
                                    metric=metric or "", credits_per_unit=credits_per_unit,
                                    currency=currency, effective_from=start,
                                    billable_metric_id=billable_metric).run(ctx)  # fmt: skip
    except (ServiceError, LedgerError) as exc:
        raise _fail(exc) from None
    typer.echo(f"added price {price.id}: {price.event_name} {price.metric} → "
               f"{format_decimal(price.credits_per_unit)} {price.currency}/unit for {price.item_id}"
               f" from {format_instant(price.effective_from, fractions=False)}")  # fmt: skip


def _instant(value: str | None) -> datetime | None:
    return None if value is None else resolve_instant(value, "UTC", field="effective_from")


@prices_app.command("list")
def prices_list() -> None:
    """List every price version, oldest first per (event name, item)."""
    for p in catalogue.list_prices(build_context(Settings.from_env())):
        until = p.effective_until
        ends = "" if until is None else f" until {format_instant(until, fractions=False)}"
        where = " AND ".join(f"{k} = {v!r}" for k, v in p.metric.filters)
        typer.echo(f"{p.id}  {p.event_name}  {p.item_id}  {p.metric}"
                   f"{f' where {where}' if where else ''}  "
                   f"{format_decimal(p.credits_per_unit)} {p.currency}/unit  from "
                   f"{format_instant(p.effective_from, fractions=False)}{ends}")  # fmt: skip


@usage_app.command("deduct")
def usage_deduct() -> None:
    """Deduct all usage that is due now (the server's deducter does this every second)."""
    ctx = build_context(Settings.from_env())
    done = deduct.deduct_due(ctx)
    events = sum(d.events for d in done)
    total = format_decimal(deduct.drawn_total(done))
    typer.echo(f"deducted {events} event(s) of {len(done)} customer(s): {total} credits drawn")
