"""SQL for invoices and invoice (and credit-note) numbers.

Numbers are account-wide (docs/rules.md §3.7): PostgreSQL draws them from a sequence, which no
transaction waits on; SQLite, whose writers are serialized anyway, from a counter row.
Every invoice read here comes complete: an invoice that credit notes credited (`credited`
is not zero) gets its notes and their cash-balance transactions, read in one query each per
batch, so invoices without notes (almost all) cost no extra read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from drawdown.records import BalanceTransaction, CreditNote, Invoice
from drawdown.store import balance_transactions, credit_notes
from drawdown.store.schema import (
    counters,
    credit_note_numbers,
    customers,
    invoice_numbers,
    invoices,
)
from drawdown.store.sqlfuncs import before, compare, decimal_compare
from drawdown.store.tx import Tx

_live = invoices.c.deleted_at.is_(None)
_SEQUENCES = {"invoice_number": invoice_numbers, "credit_note_number": credit_note_numbers}
_COLUMNS = tuple(f.name for f in dataclasses.fields(Invoice) if f.name in invoices.c)


def next_number(tx: Tx, name: str = "invoice_number") -> int:
    """The next invoice (or credit-note) number of the account."""
    if tx.postgres:
        return int(tx.execute(_SEQUENCES[name].next_value().select()).scalar_one())
    value = tx.execute(select(counters.c.value).where(counters.c.name == name)).scalar()
    if value is None:
        tx.execute(counters.insert().values(name=name, value=1))
        return 1
    tx.execute(update(counters).where(counters.c.name == name).values(value=int(value) + 1))
    return int(value) + 1


def insert(tx: Tx, values: Mapping[str, Any]) -> None:
    tx.execute(invoices.insert().values(**values))


def _record(row: Mapping[str, Any]) -> Invoice:
    values = {name: row[name] for name in _COLUMNS}
    values["metadata"] = dict(values["metadata"] or {})
    return Invoice(**values)


def _complete(tx: Tx, rows: Iterable[Mapping[str, Any]]) -> list[Invoice]:
    """Invoices from rows, each credited one with its credit notes and their transactions."""
    found = [_record(row) for row in rows]
    credited: dict[str, list[str]] = {}
    for invoice in found:
        if invoice.credited != 0:
            credited.setdefault(invoice.customer_id, []).append(invoice.id)
    notes: dict[str, list[CreditNote]] = {}
    moves: dict[str, list[BalanceTransaction]] = {}
    for customer_id, ids in credited.items():
        notes.update(credit_notes.for_invoices(tx, customer_id, ids))
        moves.update(balance_transactions.for_invoices(tx, customer_id, ids))
    return [
        dataclasses.replace(i, credit_notes=tuple(notes.get(i.id, ())),
                            balance_transactions=tuple(moves.get(i.id, ())))
        if i.credited != 0 else i
        for i in found
    ]  # fmt: skip


def get(tx: Tx, invoice_id: str) -> Invoice | None:
    """A live invoice of a live customer."""
    query = (
        select(invoices)
        .join(customers, customers.c.id == invoices.c.customer_id)
        .where(invoices.c.id == invoice_id, _live, customers.c.deleted_at.is_(None))
    )
    row = tx.execute(query).mappings().first()
    return None if row is None else _complete(tx, [row])[0]


def by_line_item(tx: Tx, line_item_id: str) -> Invoice | None:
    """The live invoice (of a live customer) that has this line item."""
    query = (
        select(invoices)
        .join(customers, customers.c.id == invoices.c.customer_id)
        .where(invoices.c.line_item_id == line_item_id, _live, customers.c.deleted_at.is_(None))
    )
    row = tx.execute(query).mappings().first()
    return None if row is None else _complete(tx, [row])[0]


def update_fields(tx: Tx, customer_id: str, invoice_id: str, values: Mapping[str, Any]) -> None:
    tx.execute(
        update(invoices)
        .where(invoices.c.customer_id == customer_id, invoices.c.id == invoice_id)
        .values(**values)
    )


def for_blocks(tx: Tx, customer_id: str, block_ids: Iterable[str]) -> list[Invoice]:
    ids = sorted(set(block_ids))
    if not ids:
        return []
    query = select(invoices).where(
        invoices.c.customer_id == customer_id, invoices.c.block_id.in_(ids), _live
    )
    return _complete(tx, tx.execute(query).mappings())


def issued_for_top_up(tx: Tx, customer_id: str, top_up_id: str) -> list[Invoice]:
    query = select(invoices).where(
        invoices.c.customer_id == customer_id,
        invoices.c.top_up_id == top_up_id,
        invoices.c.status == "issued",
        _live,
    )
    return _complete(tx, tx.execute(query).mappings())


def has_billed(tx: Tx, customer_id: str) -> bool:
    query = select(invoices.c.id).where(
        invoices.c.customer_id == customer_id, invoices.c.status.in_(("issued", "paid")), _live
    )
    return tx.execute(query.limit(1)).first() is not None


def list_page(
    tx: Tx,
    *,
    customer_id: str | None,
    statuses: Sequence[str],
    invoice_date: Sequence[tuple[str, datetime]],
    due_date: Sequence[tuple[str, datetime]],
    amount: Sequence[tuple[str, Decimal]],
    after: tuple[datetime, datetime, str] | None,
    limit: int,
) -> list[Invoice]:
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
        query = query.where(decimal_compare(c.total, op, total, tx.dialect))
    if after is not None:
        query = query.where(before((c.invoice_date, c.created_at, c.id), after))
    order = (c.invoice_date.desc(), c.created_at.desc(), c.id.desc())
    return _complete(tx, tx.execute(query.order_by(*order).limit(limit)).mappings())
