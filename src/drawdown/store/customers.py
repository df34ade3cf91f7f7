"""SQL for the customers table (live customers are those with `deleted_at IS NULL`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.engine import RowMapping

from drawdown.store.engine import execute_unless_duplicate
from drawdown.store.schema import customers
from drawdown.store.sqlfuncs import compare

_live = customers.c.deleted_at.is_(None)


def insert(conn: Connection, values: Mapping[str, Any]) -> bool:
    """False if the live external id is taken (the partial unique index decides)."""
    return execute_unless_duplicate(conn, customers.insert().values(**values))


def get(conn: Connection, customer_id: str, *, lock: bool = False) -> RowMapping | None:
    query = select(customers).where(customers.c.id == customer_id, _live)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def get_by_external_id(
    conn: Connection, external_customer_id: str, *, lock: bool = False
) -> RowMapping | None:
    query = select(customers).where(customers.c.external_customer_id == external_customer_id, _live)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def external_id_taken(conn: Connection, external_customer_id: str) -> bool:
    return get_by_external_id(conn, external_customer_id) is not None


def update_fields(conn: Connection, customer_id: str, values: Mapping[str, Any]) -> bool:
    """False if the change would give two live customers one external id."""
    if not values:
        return True
    statement = update(customers).where(customers.c.id == customer_id).values(**values)
    return execute_unless_duplicate(conn, statement)


def list_page(
    conn: Connection,
    *,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[RowMapping]:
    """Newest first; `after` is the (created_at, id) keyset of the previous page's last row."""
    query = select(customers).where(_live)
    for op, value in created_at_filters:
        query = query.where(compare(customers.c.created_at, op, value))
    if after is not None:
        created_at, customer_id = after
        query = query.where(
            or_(
                customers.c.created_at < created_at,
                and_(customers.c.created_at == created_at, customers.c.id < customer_id),
            )
        )
    query = query.order_by(customers.c.created_at.desc(), customers.c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())
