"""SQL for reading stored events: search by event id (Orb's `events.search`) and hourly
counts (`events.volume`), both over the indexes on the event id and the timestamp."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, literal_column, select

from drawdown.records import StoredEvent
from drawdown.store.corrections import CHUNK, FIELDS, by_key, stored_event
from drawdown.store.schema import customers, usage_events
from drawdown.store.tx import Tx
from drawdown.store.usage import LIVE

_e = usage_events.c


def search(
    tx: Tx, keys: Sequence[str], start: datetime, end: datetime, limit: int
) -> list[tuple[StoredEvent, str | None]]:
    """Events with these ids timestamped in [start, end), deprecated ones too but not those
    waiting in an open backfill, newest first, with their customer's external id."""
    events: list[StoredEvent] = []
    for first in range(0, len(keys), CHUNK):
        chunk, during = keys[first : first + CHUNK], (_e.timestamp >= start, _e.timestamp < end)
        query = by_key(FIELDS, chunk, *during).limit(limit)
        events += [stored_event(row) for row in tx.execute(query)]
    external = _external_ids(tx, {event.customer_id for event in events})
    found = [(event, external.get(event.customer_id)) for event in events]
    found.sort(
        key=lambda pair: (pair[0].timestamp, pair[0].idempotency_key, pair[0].origin), reverse=True
    )
    return found[:limit]


def _external_ids(tx: Tx, customer_ids: set[str]) -> dict[str, str | None]:
    if not customer_ids:
        return {}
    query = select(customers.c.id, customers.c.external_customer_id).where(
        customers.c.id.in_(sorted(customer_ids))
    )
    return {row[0]: row[1] for row in tx.execute(query)}


def _hour(dialect: str) -> object:
    """The UTC hour of an event's timestamp as text `YYYY-MM-DD HH` on both databases."""
    if dialect == "postgresql":
        return func.to_char(
            literal_column("usage_events.timestamp AT TIME ZONE 'UTC'"), "YYYY-MM-DD HH24"
        )
    return func.substr(_e.timestamp, 1, 13)  # SQLite keeps naive UTC text


def hourly_counts(tx: Tx, start: datetime, end: datetime, limit: int) -> list[tuple[datetime, int]]:
    """(hour, live events timestamped in it) for hours in [start, end) that have events,
    oldest first, at most ``limit``."""
    hour = _hour(tx.dialect).label("hour")  # type: ignore[attr-defined]
    query = (
        select(hour, func.count())
        .where(_e.timestamp >= start, _e.timestamp < end, _e.status == LIVE)
        .group_by(hour)
        .order_by(hour)
        .limit(limit)
    )
    return [
        (datetime.strptime(row[0], "%Y-%m-%d %H").replace(tzinfo=UTC), int(row[1]))
        for row in tx.execute(query)
    ]
