"""The price catalogue: items and versioned prices (credits per unit of an event metric).

A price is the line (item, event name); every change adds a version effective from now or
later, never earlier, so usage that already happened is never repriced (an event is priced
by the version in force at its own timestamp, `ledger/usage.py`).
"""

from __future__ import annotations

from datetime import datetime

from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.usage import PriceVersion, parse_metric
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import CUSTOM_UNIT_LENGTH_MAX, DEFAULT_PRICING_UNIT, iso_code
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import Work, work
from drawdown.store import usage as store
from drawdown.store.tx import Tx

ITEM_ID_LENGTH_MAX = 255
NAME_LENGTH_MAX = 255


def _text(value: str, field: str, limit: int) -> str:
    value = value.strip()
    if not 1 <= len(value) <= limit:
        raise InvalidField(field, f"must be 1-{limit} characters")
    return value


def add_item(item_id: str, name: str) -> Work[store.Item]:
    """Add an item (what block filters name); its id cannot be reused."""
    item_id = _text(item_id, "item_id", ITEM_ID_LENGTH_MAX)
    name = _text(name, "name", NAME_LENGTH_MAX)

    def body(tx: Tx, now: datetime) -> store.Item:
        item = store.Item(item_id, name, now)
        if not store.insert_item(tx, item):
            raise ConstraintViolation("item_id", f"an item {item_id!r} exists already")
        return item

    return work(body)


def list_items(ctx: ServiceContext) -> list[store.Item]:
    with ctx.db.read() as tx:
        return store.items(tx)


def add_price(
    ctx: ServiceContext,
    *,
    item_id: str,
    event_name: str,
    metric: str,
    credits_per_unit: str,
    currency: str = DEFAULT_PRICING_UNIT,
    effective_from: datetime | None = None,
) -> Work[PriceVersion]:
    """A new version of the price of ``event_name`` for ``item_id``, from now (or later)."""
    parsed = parse_metric(metric.strip())
    rate = to_decimal(credits_per_unit, field="credits_per_unit")
    if rate < 0:
        raise InvalidField("credits_per_unit", "must be greater than or equal to 0")
    name = _text(event_name, "event_name", NAME_LENGTH_MAX)
    unit = _pricing_unit(currency)
    new_id = ctx.new_id()

    def body(tx: Tx, now: datetime) -> PriceVersion:
        if store.item(tx, item_id) is None:
            raise ResourceNotFound("Item", item_id)
        start = now if effective_from is None else effective_from
        if start < now:
            raise InvalidField("effective_from", "must not be in the past: a price change "
                               "never reprices usage that already happened")  # fmt: skip
        price = PriceVersion(new_id, item_id, name, unit, parsed, rate, start)
        store.insert_price(tx, price, now)
        return price

    return work(body)


def _pricing_unit(currency: str) -> str:
    """Usage draws credits: a custom pricing unit (`credits` by default), never cash."""
    unit = _text(currency, "currency", CUSTOM_UNIT_LENGTH_MAX)
    if iso_code(unit) is not None:
        raise InvalidField("currency", "must be a pricing unit such as credits, not a currency")
    return unit


def list_prices(ctx: ServiceContext) -> list[PriceVersion]:
    with ctx.db.read() as tx:
        return store.prices(tx)
