"""What the ledger use cases return: entries and blocks with what their wire form needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from drawdown.ledger.model import Block, Entry, EntryStatus
from drawdown.records import Customer, Invoice
from drawdown.services.credits.memo import EntryHead

T = TypeVar("T")


@dataclass(frozen=True)
class EntryView:
    """An entry with its block, customer, derived status (R-PEND-1) and, for an increment
    that bought its block, the invoice (R-INC-5)."""

    entry: Entry
    block: Block
    customer: Customer
    status: EntryStatus
    invoice: Invoice | None = None


@dataclass(frozen=True)
class BlockView:
    """A block with the invoices that charged for it (E23)."""

    block: Block
    customer: Customer
    invoices: tuple[Invoice, ...] = ()


class PageEntry(NamedTuple, Generic[T]):
    """An entry of a listed page as a memo (`memo.EntryMemo`) of what never changes about
    it, with what can: its block as it is now, the customer, its derived status (R-PEND-1)
    and, for an increment that bought its block, the invoice (R-INC-5). A named tuple: a
    page makes a hundred, and a frozen dataclass's `__init__` cost more than the rest of
    the entry's read."""

    head: EntryHead
    memo: T
    block: Block
    customer: Customer
    status: EntryStatus
    invoice: Invoice | None = None
