"""SQL for top-ups (active ones have `deactivated_at IS NULL`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.engine import RowMapping

from drawdown.store.schema import credit_blocks, top_ups


def insert(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(top_ups.insert().values(**values))


def get(conn: Connection, customer_id: str, top_up_id: str) -> RowMapping | None:
    query = select(top_ups).where(top_ups.c.customer_id == customer_id, top_ups.c.id == top_up_id)
    return conn.execute(query).mappings().first()


def active_for(conn: Connection, customer_id: str, currency: str) -> list[RowMapping]:
    query = select(top_ups).where(
        top_ups.c.customer_id == customer_id,
        top_ups.c.currency == currency,
        top_ups.c.deactivated_at.is_(None),
    )
    return list(conn.execute(query.order_by(top_ups.c.created_at.desc())).mappings())


def list_active(
    conn: Connection, customer_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[RowMapping]:
    """Newest first; `after` is the (created_at, id) of the previous page's last row."""
    c = top_ups.c
    query = select(top_ups).where(c.customer_id == customer_id, c.deactivated_at.is_(None))
    if after is not None:
        created_at = after[0]
        query = query.where(
            or_(c.created_at < created_at, and_(c.created_at == created_at, c.id < after[1]))
        )
    query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def deactivate(conn: Connection, customer_id: str, top_up_id: str, now: datetime) -> None:
    conn.execute(
        update(top_ups)
        .where(top_ups.c.customer_id == customer_id, top_ups.c.id == top_up_id)
        .values(deactivated_at=now)
    )


def has_pending_block(conn: Connection, customer_id: str, top_up_id: str) -> bool:
    query = select(credit_blocks.c.id).where(
        credit_blocks.c.customer_id == customer_id,
        credit_blocks.c.top_up_id == top_up_id,
        credit_blocks.c.status == "pending_payment",
        credit_blocks.c.deleted_at.is_(None),
    )
    return conn.execute(query.limit(1)).first() is not None
