"""SQL for backfills (`usage_backfills`): create, read, list, lock, and their state changes.

A backfill row is locked (`SELECT … FOR UPDATE` on PostgreSQL; SQLite serializes writers)
by every job that ingests into it and by the job that starts its close, so an event either
enters before the close starts or is refused: a closing backfill never gains events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from drawdown.records import Backfill
from drawdown.store.schema import usage_backfills
from drawdown.store.sqlfuncs import before
from drawdown.store.tx import Tx

_b = usage_backfills.c
OPEN = ("pending", "pending_revert")  # Orb: no two of these may overlap for one customer


_FIELDS = (
    _b.id,
    _b.customer_id,
    _b.timeframe_start,
    _b.timeframe_end,
    _b.close_time,
    _b.replace_existing_events,
    _b.status,
    _b.events_ingested,
    _b.created_at,
    _b.closed_at,
    _b.reverted_at,
)


def _backfill(row: Any) -> Backfill:
    return Backfill(*row)


def insert_backfill(tx: Tx, backfill: Backfill) -> None:
    tx.execute(
        insert(usage_backfills).values(
            id=backfill.id,
            customer_id=backfill.customer_id,
            timeframe_start=backfill.timeframe_start,
            timeframe_end=backfill.timeframe_end,
            close_time=backfill.close_time,
            replace_existing_events=backfill.replace_existing_events,
            status=backfill.status,
            events_ingested=backfill.events_ingested,
            created_at=backfill.created_at,
        )
    )


def get(tx: Tx, backfill_id: str, *, lock: bool = False) -> Backfill | None:
    query = select(*_FIELDS).where(_b.id == backfill_id)
    if lock:
        query = query.with_for_update()
    row = tx.execute(query).first()
    return None if row is None else _backfill(row)


def overlapping(tx: Tx, customer_id: str | None, start: datetime, end: datetime) -> list[str]:
    """Open backfills whose timeframe overlaps [start, end) and whose customers meet this one's
    (the same customer, or either of them account-wide)."""
    scope = (
        []
        if customer_id is None
        else [or_(_b.customer_id.is_(None), _b.customer_id == customer_id)]
    )
    query = select(_b.id).where(
        _b.status.in_(OPEN), _b.timeframe_start < end, _b.timeframe_end > start, *scope
    )
    return [row[0] for row in tx.execute(query)]


def reflected_after(tx: Tx, backfill: Backfill) -> list[str]:
    """Reflected backfills closed after ``backfill`` that overlap it (a revert must undo the
    newest first: their close replaced what this one brought)."""
    assert backfill.closed_at is not None
    scope = (
        []
        if backfill.customer_id is None
        else [or_(_b.customer_id.is_(None), _b.customer_id == backfill.customer_id)]
    )
    query = select(_b.id).where(
        _b.status == "reflected",
        _b.id != backfill.id,
        _b.closed_at > backfill.closed_at,
        _b.timeframe_start < backfill.timeframe_end,
        _b.timeframe_end > backfill.timeframe_start,
        *scope,
    )
    return [row[0] for row in tx.execute(query)]


def count_ingested(tx: Tx, backfill_id: str, events: int) -> None:
    tx.execute(
        update(usage_backfills)
        .where(_b.id == backfill_id)
        .values(events_ingested=_b.events_ingested + events)
    )


def change(tx: Tx, backfill_id: str, **values: Any) -> None:
    """Set status / close_time / closed_at / reverted_at."""
    tx.execute(update(usage_backfills).where(_b.id == backfill_id).values(**values))


def page(
    tx: Tx,
    customer_id: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Backfill]:
    """Newest first (created_at, id), optionally of one customer and one status."""
    where: list[Any] = []
    if customer_id is not None:
        where.append(_b.customer_id == customer_id)
    if status is not None:
        where.append(_b.status == status)
    if after is not None:
        where.append(before([_b.created_at, _b.id], list(after)))
    query = select(*_FIELDS).where(*where).order_by(_b.created_at.desc(), _b.id.desc()).limit(limit)
    return [_backfill(row) for row in tx.execute(query)]


def unfinished(tx: Tx, now: datetime, limit: int) -> Sequence[Backfill]:
    """Backfills with work to do: pending ones due to close (or whose close started) and
    reverts under way."""
    query = (
        select(*_FIELDS)
        .where(
            or_(
                and_(_b.status == "pending", _b.close_time <= now),
                and_(_b.status == "pending", _b.closed_at.is_not(None)),
                _b.status == "pending_revert",
            )
        )
        .order_by(_b.created_at, _b.id)
        .limit(limit)
    )
    return [_backfill(row) for row in tx.execute(query)]
