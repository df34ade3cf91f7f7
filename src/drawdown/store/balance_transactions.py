"""SQL for the customer's cash balance: its append-only transactions and the cached total.

Rows are only ever inserted; the customer row's `cash_balance` is the newest row's
`ending_balance`, written in the same transaction (the customer is locked by the write path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from drawdown.records import BalanceTransaction
from drawdown.store.schema import customer_balance_transactions, customers
from drawdown.store.sqlfuncs import compare
from drawdown.store.tx import Tx

_moves = customer_balance_transactions.c
_COLUMNS = tuple(f.name for f in dataclasses.fields(BalanceTransaction))


def last_seq(tx: Tx, customer_id: str) -> int:
    """The customer's newest transaction number (0: none yet)."""
    query = select(_moves.seq).where(_moves.customer_id == customer_id)
    seq = tx.execute(query.order_by(_moves.seq.desc()).limit(1)).scalar()
    return 0 if seq is None else int(seq)


def insert(tx: Tx, move: BalanceTransaction) -> None:
    """Append a transaction and cache its ending balance on the customer."""
    tx.execute(customer_balance_transactions.insert().values(**_values(move)))
    tx.execute(
        update(customers)
        .where(customers.c.id == move.customer_id)
        .values(cash_balance=move.ending_balance)
    )


def _values(move: BalanceTransaction) -> dict[str, Any]:
    return {name: getattr(move, name) for name in _COLUMNS}


def list_page(
    tx: Tx,
    customer_id: str,
    *,
    created_at: Sequence[tuple[str, datetime]],
    after_seq: int | None,
    limit: int,
) -> list[BalanceTransaction]:
    """Newest first (by transaction number, which follows creation)."""
    query = select(customer_balance_transactions).where(_moves.customer_id == customer_id)
    for op, value in created_at:
        query = query.where(compare(_moves.created_at, op, value))
    if after_seq is not None:
        query = query.where(_moves.seq < after_seq)
    query = query.order_by(_moves.seq.desc()).limit(limit)
    return [_record(row) for row in tx.execute(query).mappings()]


def for_invoices(
    tx: Tx, customer_id: str, invoice_ids: Sequence[str]
) -> dict[str, list[BalanceTransaction]]:
    """One customer's transactions that name these invoices, oldest first, by invoice."""
    query = (
        select(customer_balance_transactions)
        .where(_moves.customer_id == customer_id, _moves.invoice_id.in_(sorted(invoice_ids)))
        .order_by(_moves.seq)
    )
    found: dict[str, list[BalanceTransaction]] = {}
    for row in tx.execute(query).mappings():
        found.setdefault(row["invoice_id"], []).append(_record(row))
    return found


def in_order(tx: Tx, customer_id: str) -> list[BalanceTransaction]:
    """Every transaction of the customer, oldest first (for verification)."""
    query = select(customer_balance_transactions).where(_moves.customer_id == customer_id)
    return [_record(row) for row in tx.execute(query.order_by(_moves.seq)).mappings()]


def owners(tx: Tx, customer_id: str | None) -> list[str]:
    """Customers (or just this one) that have transactions, for verification."""
    query = select(_moves.customer_id).distinct().order_by(_moves.customer_id)
    if customer_id is not None:
        query = query.where(_moves.customer_id == customer_id)
    return [row[0] for row in tx.execute(query)]


def cached_balance(tx: Tx, customer_id: str) -> Decimal:
    query = select(customers.c.cash_balance).where(customers.c.id == customer_id)
    balance: Decimal = tx.execute(query).scalar_one()
    return balance


def _record(row: Mapping[str, Any]) -> BalanceTransaction:
    values = {name: row[name] for name in _COLUMNS}
    values["seq"] = int(values["seq"])
    return BalanceTransaction(**values)
