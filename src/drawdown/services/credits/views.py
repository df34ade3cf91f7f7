"""What the ledger use cases return: entries and blocks with what their wire form needs."""

from __future__ import annotations

from dataclasses import dataclass

from drawdown.ledger.model import Block, Entry, EntryStatus
from drawdown.records import Customer, Invoice


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
