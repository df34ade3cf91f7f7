"""SQL for invoices and the invoice-number counter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.engine import RowMapping

from drawdown.store.engine import execute_unless_duplicate
from drawdown.store.schema import counters, customers, invoices
from drawdown.store.sqlfuncs import compare, decimal_compare

_live = invoices.c.deleted_at.is_(None)


def next_number(conn: Connection, name: str = "invoice_number") -> int:
    """The next value of a counter; the row lock serializes concurrent invoice creation."""
    value = _locked_value(conn, name)
    if value is None:
        _create_counter(conn, name)
        value = _locked_value(conn, name)
        assert value is not None
    conn.execute(update(counters).where(counters.c.name == name).values(value=value + 1))
    return value + 1


def _locked_value(conn: Connection, name: str) -> int | None:
    row = conn.execute(
        select(counters.c.value).where(counters.c.name == name).with_for_update()
    ).first()
    return None if row is None else int(row[0])


def _create_counter(conn: Connection, name: str) -> None:
    # Two first invoices can both find no row (PostgreSQL): the loser's insert waits for the
    # winner and then hits the primary key; the savepoint lets it go on to lock that row.
    execute_unless_duplicate(conn, counters.insert().values(name=name, value=0))


def insert(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(invoices.insert().values(**values))


def get(conn: Connection, invoice_id: str) -> RowMapping | None:
    """A live invoice of a live customer."""
    query = (
        select(invoices)
        .join(customers, customers.c.id == invoices.c.customer_id)
        .where(invoices.c.id == invoice_id, _live, customers.c.deleted_at.is_(None))
    )
    return conn.execute(query).mappings().first()


def update_fields(conn: Connection, invoice_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(invoices).where(invoices.c.id == invoice_id).values(**values))


def for_blocks(conn: Connection, customer_id: str, block_ids: Iterable[str]) -> list[RowMapping]:
    ids = sorted(set(block_ids))
    if not ids:
        return []
    query = select(invoices).where(
        invoices.c.customer_id == customer_id, invoices.c.block_id.in_(ids), _live
    )
    return list(conn.execute(query).mappings())


def issued_for_top_up_pending(
    conn: Connection, customer_id: str, top_up_id: str
) -> list[RowMapping]:
    query = select(invoices).where(
        invoices.c.customer_id == customer_id,
        invoices.c.top_up_id == top_up_id,
        invoices.c.status == "issued",
        _live,
    )
    return list(conn.execute(query).mappings())


def has_billed(conn: Connection, customer_id: str) -> bool:
    query = select(invoices.c.id).where(
        invoices.c.customer_id == customer_id, invoices.c.status.in_(("issued", "paid")), _live
    )
    return conn.execute(query.limit(1)).first() is not None


def list_page(
    conn: Connection,
    *,
    customer_id: str | None,
    statuses: Sequence[str],
    invoice_date: Sequence[tuple[str, datetime]],
    due_date: Sequence[tuple[str, datetime]],
    amount: Sequence[tuple[str, Decimal]],
    after: tuple[datetime, datetime, str] | None,
    limit: int,
) -> list[RowMapping]:
    """Newest invoice_date first, then newest created_at, then id."""
    c = invoices.c
    query = (
        select(invoices)
        .join(customers, customers.c.id == c.customer_id)
        .where(_live, customers.c.deleted_at.is_(None), c.status.in_(list(statuses)))
    )
    if customer_id is not None:
        query = query.where(c.customer_id == customer_id)
    for op, value in invoice_date:
        query = query.where(compare(c.invoice_date, op, value))
    for op, value in due_date:
        query = query.where(compare(c.due_date, op, value))
    for op, total in amount:
        query = query.where(decimal_compare(c.total, op, total, conn.dialect))
    if after is not None:
        query = query.where(_before(after))
    order = (c.invoice_date.desc(), c.created_at.desc(), c.id.desc())
    return list(conn.execute(query.order_by(*order).limit(limit)).mappings())


def _before(after: tuple[datetime, datetime, str]) -> Any:
    c = invoices.c
    invoice_date, created_at, invoice_id = after
    return or_(
        c.invoice_date < invoice_date,
        and_(c.invoice_date == invoice_date, c.created_at < created_at),
        and_(c.invoice_date == invoice_date, c.created_at == created_at, c.id < invoice_id),
    )
