"""SQL for usage: the price catalogue, accepted events and the deduction carry.

Events are inserted with `ON CONFLICT DO NOTHING` on (customer, idempotency key), so a
duplicate is ignored by the database even when two writers race; a deduction marks the
events it drew for (`deduction_id`) in its own transaction and only ever reads events whose
mark is still null, which is what makes a deduction happen exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, func, insert, select, tuple_, update

from drawdown.ledger.usage import PriceVersion, UsageEvent, filters_text
from drawdown.store import ranks
from drawdown.store.catalogue import version_of
from drawdown.store.prepared import Prepared
from drawdown.store.schema import (
    customer_external_ids,
    customers,
    usage_carry,
    usage_events,
    usage_items,
    usage_prices,
)
from drawdown.store.tx import Tx

_e, _p, _i, _c = usage_events.c, usage_prices.c, usage_items.c, usage_carry.c
EVENT_COLUMNS = ("customer_id", "idempotency_key", "event_name", "timestamp", "properties",
                 "accepted_at")  # fmt: skip


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    created_at: datetime


# --- the catalogue -------------------------------------------------------------------------


def insert_item(tx: Tx, item: Item) -> bool:
    """False when an item with this id exists already (no metadata, no connections)."""
    return tx.insert_unless_duplicate(insert(usage_items).values(
        id=item.id, name=item.name, created_at=item.created_at, metadata={},
        external_connections=[],
    ))  # fmt: skip


def items(tx: Tx) -> list[Item]:
    rows = tx.execute(select(_i.id, _i.name, _i.created_at).order_by(_i.id)).all()
    return [Item(*row) for row in rows]


def item(tx: Tx, item_id: str) -> Item | None:
    row = tx.execute(select(_i.id, _i.name, _i.created_at).where(_i.id == item_id)).first()
    return None if row is None else Item(*row)


def insert_price(tx: Tx, price: PriceVersion, now: datetime) -> None:
    """A bare version row (Orb's fields defaulted, no metric, no line bookkeeping): the
    catalogue's use cases write prices with `store/catalogue.insert_price` instead."""
    tx.execute(insert(usage_prices).values(
        id=price.id, item_id=price.item_id, event_name=price.event_name, currency=price.currency,
        metric=str(price.metric), filters=filters_text(price.metric.filters),
        credits_per_unit=price.credits_per_unit, effective_from=price.effective_from,
        effective_until=price.effective_until, created_at=now, name=price.event_name,
        cadence="monthly", cycle_duration=1, cycle_unit="month", metadata={},
    ))  # fmt: skip


def prices(tx: Tx) -> list[PriceVersion]:
    """Every price version, by event name, item and effective_from (the whole catalogue)."""
    rows = tx.execute(
        select(_p.id, _p.item_id, _p.event_name, _p.currency, _p.metric, _p.filters,
               _p.credits_per_unit, _p.effective_from, _p.effective_until)
        .order_by(_p.event_name, _p.item_id, _p.effective_from, _p.id)
    ).all()  # fmt: skip
    return [version_of(row) for row in rows]


# --- who an event is for -------------------------------------------------------------------


def live_customer_ids(tx: Tx, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    query = select(customers.c.id).where(customers.c.id.in_(wanted),
                                         customers.c.deleted_at.is_(None))  # fmt: skip
    return {row[0] for row in tx.execute(query)}


def customer_ids_by_external_id(tx: Tx, external_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(external_ids))
    if not wanted:
        return {}
    alias = customer_external_ids.c
    query = (
        select(alias.external_customer_id, alias.customer_id)
        .join(customers, customers.c.id == alias.customer_id)
        .where(alias.external_customer_id.in_(wanted), customers.c.deleted_at.is_(None))
    )
    return {row[0]: row[1] for row in tx.execute(query)}


# --- events --------------------------------------------------------------------------------


def properties_text(properties: Mapping[str, Any]) -> str:
    """The properties as exact JSON text (Decimals written as the numbers they are)."""
    return orjson.dumps(properties, default=_exact).decode()


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f").encode())
    raise TypeError(f"cannot store {type(value).__name__} in event properties")


def _read_properties(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return value


_EXISTING: dict[int, Prepared] = {}  # by how many keys are asked about (at most 500)


def _existing(count: int) -> Prepared:
    statement = _EXISTING.get(count)
    if statement is None:
        keys: list[Any] = [bindparam(f"k{i}") for i in range(count)]
        statement = _EXISTING[count] = Prepared(lambda: select(_e.idempotency_key).where(
            _e.customer_id == bindparam("customer_id"), _e.idempotency_key.in_(keys)))  # fmt: skip
    return statement


def existing_keys(tx: Tx, customer_id: str, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` this customer's stored events already use (a prepared statement
    per number of keys: this runs for every customer of every ingested batch)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        params = {f"k{i}": key for i, key in enumerate(chunk)}
        found.update(
            row[0] for row in tx.rows(_existing(len(chunk)), {"customer_id": customer_id, **params})
        )
    return found


_INSERT_EVENT = Prepared(
    lambda: insert(usage_events).values({name: bindparam(name) for name in EVENT_COLUMNS}),
    postgres_suffix=" ON CONFLICT DO NOTHING",
    sqlite_rewrite=lambda sql: sql + " ON CONFLICT DO NOTHING",
    bulk_rank=ranks.USAGE_EVENT_INSERT,
)


def insert_events(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert events (``EVENT_COLUMNS`` each, values not yet encoded); duplicates are skipped."""
    instant = tx.codec.instant
    encoded = [
        {**row, "timestamp": instant(row["timestamp"]), "accepted_at": instant(row["accepted_at"])}
        for row in rows
    ]
    tx.write_many(_INSERT_EVENT, encoded)


def _event(row: Any) -> UsageEvent:
    return UsageEvent(row.idempotency_key, row.event_name, row.timestamp,
                      _read_properties(row.properties))  # fmt: skip


_EVENT_FIELDS = (_e.idempotency_key, _e.event_name, _e.timestamp, _e.properties)


def due_customers(tx: Tx, cutoff: datetime, limit: int) -> list[str]:
    """Live customers with undeducted events timestamped before ``cutoff``."""
    query = (
        select(_e.customer_id)
        .where(_e.deduction_id.is_(None), _e.timestamp < cutoff)
        .group_by(_e.customer_id)
        .order_by(func.min(_e.timestamp))
        .limit(limit)
    )
    due = [row[0] for row in tx.execute(query)]
    return sorted(live_customer_ids(tx, due), key=due.index)


def due_events(tx: Tx, customer_id: str, cutoff: datetime, limit: int) -> list[UsageEvent]:
    """A customer's undeducted events before ``cutoff``, oldest first (at most ``limit``)."""
    query = (
        select(*_EVENT_FIELDS)
        .where(_e.deduction_id.is_(None), _e.timestamp < cutoff, _e.customer_id == customer_id)
        .order_by(_e.timestamp, _e.idempotency_key)
        .limit(limit)
    )
    return [_event(row) for row in tx.execute(query)]


def pending_events(tx: Tx, customer_id: str, limit: int) -> list[UsageEvent]:
    """A customer's undeducted events, whatever their time (the console's pending usage)."""
    query = (
        select(*_EVENT_FIELDS)
        .where(_e.customer_id == customer_id, _e.deduction_id.is_(None))
        .order_by(_e.timestamp, _e.idempotency_key)
        .limit(limit)
    )
    return [_event(row) for row in tx.execute(query)]


def events_between(
    tx: Tx,
    customer_id: str,
    start: datetime,
    end: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
    event_names: Sequence[str] | None = None,
) -> list[UsageEvent]:
    """A customer's events timestamped in ``[start, end)``, deducted or not, oldest first
    (only those named in ``event_names`` when given); ``after`` is the (timestamp,
    idempotency key) of the previous batch's last event."""
    query = select(*_EVENT_FIELDS).where(
        _e.customer_id == customer_id, _e.timestamp >= start, _e.timestamp < end
    )
    if event_names is not None:
        query = query.where(_e.event_name.in_(sorted(set(event_names))))
    if after is not None:
        query = query.where(tuple_(_e.timestamp, _e.idempotency_key) > tuple_(*after))
    query = query.order_by(_e.timestamp, _e.idempotency_key).limit(limit)
    return [_event(row) for row in tx.execute(query)]


def mark_deducted(
    tx: Tx, customer_id: str, keys: Sequence[str], deduction_id: str, now: datetime
) -> int:
    """Mark events as drawn by ``deduction_id``; returns how many were still unmarked."""
    marked = 0
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        result = tx.execute(
            update(usage_events)
            .where(and_(_e.customer_id == customer_id, _e.idempotency_key.in_(chunk),
                        _e.deduction_id.is_(None)))
            .values(deduction_id=deduction_id, deducted_at=now)
        )  # fmt: skip
        marked += result.rowcount
    return marked


def count_events(tx: Tx, customer_id: str) -> tuple[int, int]:
    """(events kept, of which deducted) for one customer."""
    query = select(func.count(), func.count(_e.deduction_id)).where(_e.customer_id == customer_id)
    total, deducted = tx.execute(query).one()
    return int(total), int(deducted)


# --- carry ---------------------------------------------------------------------------------


def carry(tx: Tx, customer_id: str) -> dict[tuple[str, str], Decimal]:
    query = select(_c.currency, _c.item_id, _c.carried).where(_c.customer_id == customer_id)
    return {(row[0], row[1]): row[2] for row in tx.execute(query)}


def set_carry(
    tx: Tx, customer_id: str, currency: str, item_id: str, carried: Decimal, now: datetime
) -> None:
    where = and_(_c.customer_id == customer_id, _c.currency == currency, _c.item_id == item_id)
    result = tx.execute(update(usage_carry).where(where).values(carried=carried, updated_at=now))
    if result.rowcount == 0:
        tx.execute(insert(usage_carry).values(customer_id=customer_id, currency=currency,
                                              item_id=item_id, carried=carried,
                                              updated_at=now))  # fmt: skip
