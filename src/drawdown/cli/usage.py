"""`drawdown items …`, `drawdown prices …` and `drawdown usage …`: the price catalogue and
usage deductions from the command line (the same use cases as the console)."""

from __future__ import annotations

from datetime import datetime

import typer

from drawdown.app import build_context
from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant, resolve_instant
from drawdown.ledger.errors import LedgerError
from drawdown.services.errors import ServiceError
from drawdown.services.usage import catalogue, deduct
from drawdown.settings import Settings

items_app = typer.Typer(help="Manage the items usage is priced for.", no_args_is_help=True)
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
        typer.echo(f"{item.id}  {item.name}  created {created}")


@prices_app.command("add")
def prices_add(
    item: str = typer.Option(..., help="The item the usage draws credits for"),
    event_name: str = typer.Option(..., help="The event name this price applies to"),
    metric: str = typer.Option(..., help="count, or sum:PROPERTY (a numeric property)"),
    credits_per_unit: str = typer.Option(..., help="Credits per unit of the metric (a decimal)"),
    currency: str = typer.Option("credits", help="The ledger (pricing unit) usage draws from"),
    effective_from: str = typer.Option(
        None, help="When this version takes effect (ISO 8601, not in the past; default now)"
    ),
) -> None:
    """Add a price, or a new version of the price of (item, event name)."""
    ctx = build_context(Settings.from_env())
    try:
        start = _instant(effective_from)
        price = catalogue.add_price(ctx, item_id=item, event_name=event_name, metric=metric,
                                    credits_per_unit=credits_per_unit, currency=currency,
                                    effective_from=start).run(ctx)  # fmt: skip
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
        typer.echo(f"{p.id}  {p.event_name}  {p.item_id}  {p.metric}  "
                   f"{format_decimal(p.credits_per_unit)} {p.currency}/unit  from "
                   f"{format_instant(p.effective_from, fractions=False)}")  # fmt: skip


@usage_app.command("deduct")
def usage_deduct() -> None:
    """Deduct all usage that is due now (the server's deducter does this every second)."""
    ctx = build_context(Settings.from_env())
    done = deduct.deduct_due(ctx)
    events = sum(d.events for d in done)
    total = format_decimal(deduct.drawn_total(done))
    typer.echo(f"deducted {events} event(s) of {len(done)} customer(s): {total} credits drawn")
