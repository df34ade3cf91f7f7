"""SQL for top-ups (active ones have `deactivated_at IS NULL`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from drawdown.records import TopUp
from drawdown.store.rows import record_of
from drawdown.store.schema import credit_blocks, top_ups
from drawdown.store.sqlfuncs import before
from drawdown.store.tx import Tx


def _record(row: Mapping[str, Any]) -> TopUp:
    top_up: TopUp = record_of(TopUp, row)
    return top_up


def insert(tx: Tx, values: Mapping[str, Any]) -> None:
    tx.execute(top_ups.insert().values(**values))


def get(tx: Tx, customer_id: str, top_up_id: str) -> TopUp | None:
    query = select(top_ups).where(top_ups.c.customer_id == customer_id, top_ups.c.id == top_up_id)
    row = tx.execute(query).mappings().first()
    return None if row is None else _record(row)


def active_for(tx: Tx, customer_id: str, currency: str) -> list[TopUp]:
    query = select(top_ups).where(
        top_ups.c.customer_id == customer_id,
        top_ups.c.currency == currency,
        top_ups.c.deactivated_at.is_(None),
    )
    rows = tx.execute(query.order_by(top_ups.c.created_at.desc())).mappings()
    return [_record(row) for row in rows]


def list_active(
    tx: Tx, customer_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[TopUp]:
    """Newest first; `after` is the (created_at, id) of the previous page's last row."""
    c = top_ups.c
    query = select(top_ups).where(c.customer_id == customer_id, c.deactivated_at.is_(None))
    if after is not None:
        query = query.where(before((c.created_at, c.id), after))
    query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    return [_record(row) for row in tx.execute(query).mappings()]


def deactivate(tx: Tx, customer_id: str, top_up_id: str, now: datetime) -> None:
    tx.execute(
        update(top_ups)
        .where(top_ups.c.customer_id == customer_id, top_ups.c.id == top_up_id)
        .values(deactivated_at=now)
    )


def has_pending_block(tx: Tx, customer_id: str, top_up_id: str) -> bool:
    query = select(credit_blocks.c.id).where(
        credit_blocks.c.customer_id == customer_id,
        credit_blocks.c.top_up_id == top_up_id,
        credit_blocks.c.status == "pending_payment",
        credit_blocks.c.deleted_at.is_(None),
    )
    return tx.execute(query.limit(1)).first() is not None
