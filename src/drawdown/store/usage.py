"""SQL for usage: the price catalogue, accepted events and the deduction carry (R-USE-3).

Events are inserted with `ON CONFLICT DO NOTHING` on (customer, idempotency key, origin) and
on the one-live-row-per-key index, so a duplicate is ignored by the database even when two
writers race; a deduction marks the events it drew for (`deduction_id`) in its own
transaction and only ever reads live events whose mark is still null, which is what makes a
deduction happen exactly once. Corrections of stored events are `store/corrections.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import String, and_, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
from drawdown.store.sqlfuncs import in_list
from drawdown.store.tx import Tx

_e, _p, _i, _c = usage_events.c, usage_prices.c, usage_items.c, usage_carry.c
EVENT_COLUMNS = ("customer_id", "idempotency_key", "event_name", "timestamp", "properties",
                 "accepted_at", "origin", "status")  # fmt: skip
LIVE = "live"  # the status of an event that counts (schema.py lists the others)


@dataclass(frozen=True)
class DueEvent:
    """An event due for deduction, and when drawdown accepted it (the deduction's lag)."""

    event: UsageEvent
    accepted_at: datetime


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
    """Every item (read once per committer batch: `BatchCache.table`)."""

    def load() -> list[Item]:
        rows = tx.execute(select(_i.id, _i.name, _i.created_at).order_by(_i.id)).all()
        return [Item(*row) for row in rows]

    return load() if tx.batch is None else tx.batch.table("usage_items", load)


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
    """Every price version, by event name, item and effective_from (the whole catalogue;
    read once per committer batch: `BatchCache.table`)."""

    def load() -> list[PriceVersion]:
        rows = tx.execute(
            select(_p.id, _p.item_id, _p.event_name, _p.currency, _p.metric, _p.filters,
                   _p.credits_per_unit, _p.effective_from, _p.effective_until)
            .order_by(_p.event_name, _p.item_id, _p.effective_from, _p.id)
        ).all()  # fmt: skip
        return [version_of(row) for row in rows]

    return load() if tx.batch is None else tx.batch.table("usage_prices", load)


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


def read_properties(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return value


def _existing_pairs(dialect: str, of_origin: bool) -> Any:
    """Stored events with one of the (customer, key) pairs asked about: a join from the pairs
    (one parameter, the whole list) into the primary key, one index probe per pair."""
    customer: Any
    key: Any
    if dialect == "postgresql":
        texts = postgresql.ARRAY(String)
        asked = (
            func.unnest(bindparam("customer_ids", type_=texts), bindparam("keys", type_=texts))
            .table_valued("customer_id", "idempotency_key")
            .render_derived(name="p", with_types=False)
        )
        customer, key = asked.c.customer_id, asked.c.idempotency_key
    else:
        asked = func.json_each(bindparam("pairs")).table_valued("value").alias("p")
        customer = func.json_extract(asked.c.value, "$[0]")
        key = func.json_extract(asked.c.value, "$[1]")
    on = and_(_e.customer_id == customer, _e.idempotency_key == key)
    if of_origin:
        on = and_(on, _e.origin == bindparam("origin"))
    return select(_e.customer_id, _e.idempotency_key).select_from(asked.join(usage_events, on))


_EXISTING_PAIRS = {
    origin: Prepared(lambda dialect, o=origin: _existing_pairs(dialect, o), per_dialect=True)
    for origin in (False, True)
}


def existing_pairs(
    tx: Tx, pairs: Sequence[tuple[str, str]], origin: str | None = None
) -> set[tuple[str, str]]:
    """Which (customer, key) pairs stored events already use (of any origin, or of
    ``origin``: a backfill's own keys): one statement for a whole ingested batch."""
    if not pairs:
        return set()
    if tx.postgres:
        params: dict[str, Any] = {"customer_ids": [c for c, _ in pairs],
                                  "keys": [k for _, k in pairs]}  # fmt: skip
    else:
        params = {"pairs": json.dumps(pairs)}
    if origin is not None:
        params["origin"] = origin
    return {(row[0], row[1]) for row in tx.rows(_EXISTING_PAIRS[origin is not None], params)}


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
                      read_properties(row.properties))  # fmt: skip


_EVENT_FIELDS = (_e.idempotency_key, _e.event_name, _e.timestamp, _e.properties)


def due_customers(tx: Tx, cutoff: datetime, limit: int) -> list[str]:
    """Live customers with undeducted events timestamped before ``cutoff``."""
    query = (
        select(_e.customer_id)
        .where(_e.deduction_id.is_(None), _e.status == LIVE, _e.timestamp < cutoff)
        .group_by(_e.customer_id)
        .order_by(func.min(_e.timestamp))
        .limit(limit)
    )
    due = [row[0] for row in tx.execute(query)]
    return sorted(live_customer_ids(tx, due), key=due.index)


def _by_pending_index(sql: str) -> str:
    """SQLite has no statistics to tell that few of a customer's events are undeducted: left
    alone it walks the customer's whole history by time (`ix_usage_events_time`, 133 ms at
    100,000 deducted events) instead of the undeducted ones (`ix_usage_events_customer`,
    87 µs). PostgreSQL's statistics choose the latter by themselves."""
    return sql.replace(
        "FROM usage_events ", "FROM usage_events INDEXED BY ix_usage_events_customer ", 1
    )


_DUE_EVENTS = Prepared(
    lambda: (
        select(_e.idempotency_key, _e.event_name, _e.timestamp, _e.properties, _e.accepted_at)
        .where(
            _e.customer_id == bindparam("customer_id"),
            _e.deduction_id.is_(None),
            _e.status == LIVE,
            _e.timestamp < bindparam("cutoff"),
        )
        .order_by(_e.timestamp, _e.idempotency_key)
        .limit(bindparam("limit"))
    ),
    sqlite_rewrite=_by_pending_index,
    one_customer=True,
)


def due_events(tx: Tx, customer_id: str, cutoff: datetime, limit: int) -> list[DueEvent]:
    """A customer's undeducted live events before ``cutoff``, oldest first (at most ``limit``)."""
    read = tx.codec.read_instant
    rows = tx.rows(
        _DUE_EVENTS,
        {"customer_id": customer_id, "cutoff": tx.codec.instant(cutoff), "limit": limit},
    )
    return [
        DueEvent(UsageEvent(key, name, read(at), read_properties(properties)), read(accepted))
        for key, name, at, properties, accepted in rows
    ]


_PENDING_EVENTS = Prepared(
    lambda: (
        select(*_EVENT_FIELDS)
        .where(
            _e.customer_id == bindparam("customer_id"),
            _e.deduction_id.is_(None),
            _e.status == LIVE,
        )
        .order_by(_e.timestamp, _e.idempotency_key)
        .limit(bindparam("limit"))
    ),
    sqlite_rewrite=_by_pending_index,
    one_customer=True,
)


def pending_events(tx: Tx, customer_id: str, limit: int) -> list[UsageEvent]:
    """A customer's undeducted live events, whatever their time (the console's pending usage)."""
    read = tx.codec.read_instant
    rows = tx.rows(_PENDING_EVENTS, {"customer_id": customer_id, "limit": limit})
    return [
        UsageEvent(key, name, read(at), read_properties(properties))
        for key, name, at, properties in rows
    ]


def events_between(
    tx: Tx,
    customer_id: str,
    start: datetime,
    end: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
    event_names: Sequence[str] | None = None,
) -> list[UsageEvent]:
    """A customer's events timestamped in ``[start, end)`` that count (live: not deprecated,
    replaced, reverted, skipped or waiting in an open backfill), deducted or not, oldest
    first (only those named in ``event_names`` when given); ``after`` is the (timestamp,
    idempotency key) of the previous batch's last event."""
    query = select(*_EVENT_FIELDS).where(
        _e.customer_id == customer_id, _e.timestamp >= start, _e.timestamp < end,
        _e.status == "live",
    )  # fmt: skip
    if event_names is not None:
        query = query.where(_e.event_name.in_(sorted(set(event_names))))
    if after is not None:
        query = query.where(tuple_(_e.timestamp, _e.idempotency_key) > tuple_(*after))
    query = query.order_by(_e.timestamp, _e.idempotency_key).limit(limit)
    return [_event(row) for row in tx.execute(query)]


_MARK_DEDUCTED = Prepared(
    lambda dialect: (
        update(usage_events)
        .where(
            _e.customer_id == bindparam("customer_id"),
            in_list(_e.idempotency_key, "keys", dialect),
            _e.deduction_id.is_(None),
            _e.status == LIVE,
        )
        .values(deduction_id=bindparam("mark"), deducted_at=bindparam("marked_at"))
    ),
    per_dialect=True,
    bulk_rank=ranks.USAGE_EVENT_MARK,
)


def mark_deducted(
    tx: Tx, customer_id: str, keys: Sequence[str], deduction_id: str, now: datetime
) -> None:
    """Mark live events as drawn by ``deduction_id``: one buffered row for them all (the
    caller read them unmarked under the customer's lock, in this transaction)."""
    c = tx.codec
    params = {"customer_id": customer_id, "keys": c.texts(keys), "mark": deduction_id,
              "marked_at": c.instant(now)}  # fmt: skip
    tx.write(_MARK_DEDUCTED, params)


def pending_count(tx: Tx) -> int:
    """Undeducted events of live customers (a deleted customer's are never deducted)."""
    query = (
        select(func.count())
        .select_from(usage_events.join(customers, customers.c.id == _e.customer_id))
        .where(_e.deduction_id.is_(None), customers.c.deleted_at.is_(None))
    )
    return int(tx.execute(query).scalar_one())


@dataclass(frozen=True)
class PendingEvent:
    customer_id: str
    timestamp: datetime
    accepted_at: datetime


def oldest_pending(tx: Tx, sample: int = 50) -> PendingEvent | None:
    """The undeducted event of a live customer with the oldest timestamp, among the
    ``sample`` oldest undeducted events (read from the due index: deleted customers' events
    ahead of them are skipped, and more than ``sample`` of those make this None)."""
    query = (
        select(_e.customer_id, _e.timestamp, _e.accepted_at)
        .where(_e.deduction_id.is_(None))
        .order_by(_e.timestamp)
        .limit(sample)
    )
    rows = tx.execute(query).all()
    live = live_customer_ids(tx, {row[0] for row in rows})
    return next((PendingEvent(*row) for row in rows if row[0] in live), None)


def count_events(tx: Tx, customer_id: str) -> tuple[int, int]:
    """(live events kept, of which deducted) for one customer."""
    query = select(func.count(), func.count(_e.deduction_id)).where(
        _e.customer_id == customer_id, _e.status == LIVE
    )
    total, deducted = tx.execute(query).one()
    return int(total), int(deducted)


# --- carry ---------------------------------------------------------------------------------


_CARRY = Prepared(
    lambda: select(_c.currency, _c.item_id, _c.carried).where(
        _c.customer_id == bindparam("customer_id")
    ),
    one_customer=True,
)


def carry(tx: Tx, customer_id: str) -> dict[tuple[str, str], Decimal]:
    read = tx.codec.read_decimal
    return {(c, i): read(v) for c, i, v in tx.rows(_CARRY, {"customer_id": customer_id})}


def _upsert_carry(dialect: str) -> Any:
    statement = (sqlite_insert if dialect == "sqlite" else postgresql.insert)(usage_carry)
    return statement.on_conflict_do_update(
        index_elements=["customer_id", "currency", "item_id"],
        set_={"carried": statement.excluded.carried, "updated_at": statement.excluded.updated_at},
    )


_UPSERT_CARRY = Prepared(_upsert_carry, per_dialect=True, bulk_rank=ranks.USAGE_CARRY_UPSERT)


def set_carry(
    tx: Tx, customer_id: str, currency: str, item_id: str, carried: Decimal, now: datetime
) -> None:
    tx.write(_UPSERT_CARRY, {"customer_id": customer_id, "currency": currency,
                             "item_id": item_id, "carried": tx.codec.decimal(carried),
                             "updated_at": tx.codec.instant(now)})  # fmt: skip
