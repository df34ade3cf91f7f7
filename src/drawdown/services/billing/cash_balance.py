"""The customer's cash balance (Orb's customer balance transactions): money, not credits
(R-CSH-1, R-CSH-2).

The balance is an amount in the customer's currency that the customer is owed (positive) or
owes (negative); it never touches a credit ledger. It has its own append-only ledger: every
transaction moves the balance by its amount and records where it started and ended, and the
customer row caches the newest ending balance so every rendering of a customer shows it.
Transactions are written in the customer's write transaction (`customer_work`), so one
customer's transactions are serialized and chain without gaps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from drawdown.ledger.dates import resolve_bounds
from drawdown.records import BalanceTransaction, Customer
from drawdown.services.billing.money import in_minor_units
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ConstraintViolation
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    find_customer,
)
from drawdown.store import balance_transactions as store

MoveType = Literal["increment", "decrement"]
MANUAL_ADJUSTMENT = "manual_adjustment"
CREDIT_NOTE_APPLIED = "credit_note_applied"


@dataclass(frozen=True)
class Move:
    """One balance change to record: its direction, amount and what it is tied to."""

    type: MoveType
    amount: Decimal
    action: str = MANUAL_ADJUSTMENT
    description: str | None = None
    invoice_id: str | None = None
    credit_note_id: str | None = None


def create_transaction(ref: CustomerRef, fields: Mapping[str, Any]) -> Work[BalanceTransaction]:
    """`customers.balance_transactions.create`: a manual adjustment of the cash balance."""

    def create(write: CustomerWrite) -> BalanceTransaction:
        currency = _currency(write.customer)
        amount = in_minor_units(fields["amount"], currency, field="amount")
        return record(write, Move(fields["type"], amount, description=fields.get("description")))

    return customer_work(ref, create)


def record(write: CustomerWrite, move: Move) -> BalanceTransaction:
    """Append `move` to the customer's cash balance (the customer is locked)."""
    assert move.amount > 0, move
    starting = write.customer.cash_balance
    ending = starting + move.amount if move.type == "increment" else starting - move.amount
    transaction = BalanceTransaction(
        customer_id=write.customer_id, id=write.ctx.new_id(),
        seq=store.last_seq(write.tx, write.customer_id) + 1, action=move.action, type=move.type,
        currency=_currency(write.customer), amount=move.amount, starting_balance=starting,
        ending_balance=ending, description=move.description, invoice_id=move.invoice_id,
        credit_note_id=move.credit_note_id, created_at=write.now,
    )  # fmt: skip
    store.insert(write.tx, transaction)
    write.customer = dataclasses.replace(write.customer, cash_balance=ending)
    return transaction


def _currency(customer: Customer) -> str:
    """The balance is money in the customer's currency, so the customer needs one."""
    if customer.currency is None:
        raise ConstraintViolation(
            "amount", "the customer has no currency; set it before changing its balance"
        )
    return customer.currency


@dataclass(frozen=True)
class TransactionQuery:
    operation_time: Sequence[tuple[str, str]]
    after_seq: int | None
    limit: int


def list_transactions(
    ctx: ServiceContext, ref: CustomerRef, query: TransactionQuery
) -> list[BalanceTransaction]:
    """Newest first; `operation_time` filters on when each transaction was made."""
    with ctx.db.read() as tx:
        customer = find_customer(tx, ref)
        bounds = resolve_bounds(query.operation_time, customer.timezone, field="operation_time")
        return store.list_page(
            tx, customer.id, created_at=bounds, after_seq=query.after_seq, limit=query.limit
        )
