"""The price catalogue as the CLI and the console have always spelled it: an item by the id
the operator chooses, and a price as (item, event name, `count` | `sum:PROPERTY`, credits
per unit, from when). These are the same use cases as the API's (`items.py`, `prices.py`):
a price here finds or makes the item's billable metric for that event name and metric, and
is a new version of its line (item, event name), effective from now or later, never
earlier, so usage that already happened is never repriced (`ledger/usage.py`).
"""

from __future__ import annotations

from datetime import datetime

from drawdown.ledger.metric_sql import MetricDefinition
from drawdown.ledger.usage import PriceVersion, parse_metric
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import DEFAULT_PRICING_UNIT
from drawdown.services.usage import items, price_input, prices
from drawdown.services.usage.price_input import PriceSpec, pricing_unit
from drawdown.services.write_path import Work
from drawdown.store import catalogue as catalogue_store
from drawdown.store import usage as store
from drawdown.store.catalogue import CatalogueItem

ITEM_ID_LENGTH_MAX = items.ITEM_ID_LENGTH_MAX
NAME_LENGTH_MAX = items.NAME_LENGTH_MAX


def add_item(item_id: str, name: str) -> Work[CatalogueItem]:
    """Add an item (what block filters name) with the operator's id; it cannot be reused."""
    return Work(lambda ctx, tx, now: items.create_item(ctx, {"name": name}, item_id)
                .body(ctx, tx, now))  # fmt: skip


def list_items(ctx: ServiceContext) -> list[CatalogueItem]:
    """Every item, by id."""
    with ctx.db.read() as tx:
        return catalogue_store.all_items(tx)


def add_price(
    ctx: ServiceContext,
    *,
    item_id: str,
    event_name: str,
    metric: str,
    credits_per_unit: str,
    currency: str = DEFAULT_PRICING_UNIT,
    effective_from: datetime | None = None,
    billable_metric_id: str | None = None,
) -> Work[PriceVersion]:
    """A new version of the price of ``event_name`` counted by ``metric`` for ``item_id``
    (or of what ``billable_metric_id`` counts, when given), from now or later."""
    rate = price_input.credits_per_unit(credits_per_unit.strip(), "credits_per_unit")
    unit = pricing_unit(currency)
    definition = None
    if billable_metric_id is None:
        name = items.text(event_name, "event_name", NAME_LENGTH_MAX)
        definition = MetricDefinition(name, parse_metric(metric.strip()))
    spec = PriceSpec(item_id=item_id.strip(), currency=unit, unit_amount=rate,
                     billable_metric_id=billable_metric_id, definition=definition,
                     effective_from=effective_from)  # fmt: skip
    work = prices.create_price(ctx, spec)
    return Work(lambda c, tx, now: work.body(c, tx, now).version)


def list_prices(ctx: ServiceContext) -> list[PriceVersion]:
    """Every price version, by event name, item and start."""
    with ctx.db.read() as tx:
        return store.prices(tx)


def list_price_records(ctx: ServiceContext) -> list[prices.PriceRecord]:
    """Every price version with Orb's fields, by item, event name and start (the console)."""
    with ctx.db.read() as tx:
        return catalogue_store.all_prices(tx)
