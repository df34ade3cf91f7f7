"""SQL for credit notes and their line items (written once, never changed)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from drawdown.records import CreditNote, CreditNoteLine
from drawdown.store.schema import credit_note_line_items, credit_notes, customers
from drawdown.store.sqlfuncs import before, compare
from drawdown.store.tx import Tx

_notes = credit_notes.c
_lines = credit_note_line_items.c
_NOTE_COLUMNS = tuple(
    f.name for f in dataclasses.fields(CreditNote) if f.name != "line_items"
)  # fmt: skip
_LINE_COLUMNS = tuple(f.name for f in dataclasses.fields(CreditNoteLine))
_live_customer = customers.c.deleted_at.is_(None)


def insert(tx: Tx, note: CreditNote) -> None:
    tx.execute(credit_notes.insert().values(**{n: getattr(note, n) for n in _NOTE_COLUMNS}))
    rows = [
        {"customer_id": note.customer_id, "credit_note_id": note.id, "position": position,
         **{name: getattr(line, name) for name in _LINE_COLUMNS}}
        for position, line in enumerate(note.line_items)
    ]  # fmt: skip
    tx.execute(credit_note_line_items.insert(), rows)


def get(tx: Tx, credit_note_id: str) -> CreditNote | None:
    """A credit note of a live customer, with its line items."""
    query = _of_live_customers().where(_notes.id == credit_note_id)
    found = _with_lines(tx, tx.execute(query).mappings().all())
    return found[0] if found else None


def list_page(
    tx: Tx,
    *,
    customer_id: str | None,
    created_at: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[CreditNote]:
    """Newest first (created_at, then id), with their line items."""
    query = _of_live_customers()
    if customer_id is not None:
        query = query.where(_notes.customer_id == customer_id)
    for op, value in created_at:
        query = query.where(compare(_notes.created_at, op, value))
    if after is not None:
        query = query.where(before((_notes.created_at, _notes.id), after))
    query = query.order_by(_notes.created_at.desc(), _notes.id.desc()).limit(limit)
    return _with_lines(tx, tx.execute(query).mappings().all())


def for_invoices(
    tx: Tx, customer_id: str, invoice_ids: Sequence[str]
) -> dict[str, list[CreditNote]]:
    """One customer's credit notes (without line items) by invoice, oldest first."""
    query = (
        select(credit_notes)
        .where(_notes.customer_id == customer_id, _notes.invoice_id.in_(sorted(invoice_ids)))
        .order_by(_notes.created_at, _notes.id)
    )
    found: dict[str, list[CreditNote]] = {}
    for row in tx.execute(query).mappings():
        found.setdefault(row["invoice_id"], []).append(_note(row))
    return found


def _of_live_customers() -> Any:
    return (
        select(credit_notes)
        .join(customers, customers.c.id == _notes.customer_id)
        .where(_live_customer)
    )


def _note(row: Mapping[str, Any], lines: Sequence[CreditNoteLine] = ()) -> CreditNote:
    return CreditNote(**{name: row[name] for name in _NOTE_COLUMNS}, line_items=tuple(lines))


def _with_lines(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> list[CreditNote]:
    if not rows:
        return []
    query = (
        select(credit_note_line_items)
        .where(
            _lines.customer_id.in_(sorted({r["customer_id"] for r in rows})),
            _lines.credit_note_id.in_(sorted({r["id"] for r in rows})),
        )
        .order_by(_lines.credit_note_id, _lines.position)
    )
    lines: dict[tuple[str, str], list[CreditNoteLine]] = {}
    for row in tx.execute(query).mappings():
        line = CreditNoteLine(**{name: row[name] for name in _LINE_COLUMNS})
        lines.setdefault((row["customer_id"], row["credit_note_id"]), []).append(line)
    return [_note(r, lines.get((r["customer_id"], r["id"]), [])) for r in rows]
