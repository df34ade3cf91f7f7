"""Wire form of credit blocks (§3.2), affected blocks (§3.3) and ledger entries (§3.4).

Entry *requests* are validated in `services/entry_input.py`, shared with the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, TypedDict, Union

from drawdown.api.schemas.customers import CustomerMinifiedJson, customer_minified
from drawdown.api.schemas.instants import at, day
from drawdown.api.schemas.invoices import (
    CreditBlockInvoiceJson,
    InvoiceJson,
    invoice_json,
    invoice_summary_json,
)
from drawdown.api.schemas.wire import (
    DecimalString,
    Discriminated,
    Enum,
    Instant,
    Metadata,
    Null,
    Number,
)
from drawdown.ledger.amounts import format_scaled
from drawdown.ledger.model import Block, BlockStatus, EntryStatus
from drawdown.services.ledger.views import BlockView, EntryView


class CreditBlockFilterJson(TypedDict):
    field: str
    operator: Annotated[str, Enum("includes", "excludes")]
    values: list[str]


class CreditBlockJson(TypedDict):
    """A credit block (docs/rules.md §3.2)."""

    id: str
    balance: Number
    maximum_initial_balance: Number | None
    effective_date: Instant | None
    expiry_date: Instant | None
    per_unit_cost_basis: DecimalString | None
    filters: list[CreditBlockFilterJson]
    metadata: Metadata
    status: BlockStatus
    credit_block_source: Annotated[str, Enum("allocation", "top_up", "commitment", "manual")]
    credit_allocation: Null
    credit_commitment: Null


class CreditBlockInvoicesJson(TypedDict):
    block: CreditBlockJson
    invoices: list[CreditBlockInvoiceJson]


class AffectedBlockJson(TypedDict):
    """The block a ledger entry acts on, as it is now (docs/rules.md §3.3)."""

    id: str
    expiry_date: Instant | None
    per_unit_cost_basis: DecimalString | None
    filters: list[CreditBlockFilterJson]


class _EntryJson(TypedDict):
    """What every ledger entry has (docs/rules.md §3.4)."""

    id: str
    entry_status: EntryStatus
    ledger_sequence_number: int
    amount: Number
    starting_balance: Number
    ending_balance: Number
    currency: str
    created_at: Instant
    credit_block: AffectedBlockJson
    customer: CustomerMinifiedJson
    description: str | None
    metadata: Metadata


class IncrementLedgerEntryJson(_EntryJson):
    entry_type: Literal["increment"]
    created_invoices: list[InvoiceJson] | None


class DecrementLedgerEntryJson(_EntryJson):
    entry_type: Literal["decrement"]
    event_id: str | None
    invoice_id: str | None
    price_id: str | None


class ExpirationChangeLedgerEntryJson(_EntryJson):
    entry_type: Literal["expiration_change"]
    new_block_expiry_date: Instant | None


class CreditBlockExpiryLedgerEntryJson(_EntryJson):
    entry_type: Literal["credit_block_expiry"]


class VoidLedgerEntryJson(_EntryJson):
    entry_type: Literal["void"]
    void_amount: Number
    void_reason: str | None


class VoidInitiatedLedgerEntryJson(_EntryJson):
    entry_type: Literal["void_initiated"]
    void_amount: Number
    void_reason: str | None
    new_block_expiry_date: Instant


class AmendmentLedgerEntryJson(_EntryJson):
    entry_type: Literal["amendment"]


LedgerEntryJson = Annotated[
    Union[  # noqa: UP007 (a union of classes, named for the document)
        IncrementLedgerEntryJson, DecrementLedgerEntryJson, ExpirationChangeLedgerEntryJson,
        CreditBlockExpiryLedgerEntryJson, VoidLedgerEntryJson, VoidInitiatedLedgerEntryJson,
        AmendmentLedgerEntryJson,
    ],
    Discriminated("LedgerEntry", "entry_type",
                  "A ledger entry (docs/rules.md §3.4), discriminated by `entry_type`."),
]  # fmt: skip


def filters_json(block: Block) -> list[CreditBlockFilterJson]:
    return [
        {"field": f.field, "operator": f.operator, "values": list(f.values)} for f in block.filters
    ]


def cost_basis_json(block: Block) -> str | None:
    cost_basis = block.per_unit_cost_basis
    return None if cost_basis is None else format_scaled(cost_basis)


def block_json(block: Block) -> CreditBlockJson:
    return {
        "id": block.id,
        "balance": block.balance,
        "maximum_initial_balance": block.maximum_initial_balance,
        "effective_date": day(block.effective_date),
        "expiry_date": day(block.expiry_date),
        "per_unit_cost_basis": cost_basis_json(block),
        "filters": filters_json(block),
        "metadata": dict(block.metadata),
        "status": block.status,
        "credit_block_source": block.source,
        "credit_allocation": None,
        "credit_commitment": None,
    }


def block_invoices_json(view: BlockView) -> CreditBlockInvoicesJson:
    return {
        "block": block_json(view.block),
        "invoices": [invoice_summary_json(i, view.customer) for i in view.invoices],
    }


def affected_block_json(block: Block) -> AffectedBlockJson:
    return {
        "id": block.id,
        "expiry_date": day(block.expiry_date),
        "per_unit_cost_basis": cost_basis_json(block),
        "filters": filters_json(block),
    }


def entries_json(views: Sequence[EntryView]) -> list[LedgerEntryJson]:
    """A page of entries; the parts entries share (their block, the customer) are built once."""
    blocks: dict[str, AffectedBlockJson] = {}
    customers: dict[str, CustomerMinifiedJson] = {}
    page = []
    for view in views:
        block = blocks.get(view.block.id)
        if block is None:
            block = blocks[view.block.id] = affected_block_json(view.block)
        customer = customers.get(view.customer.id)
        if customer is None:
            customer = customers[view.customer.id] = customer_minified(view.customer)
        page.append(entry_json(view, block, customer))
    return page


def entry_json(
    view: EntryView,
    block_json: AffectedBlockJson | None = None,
    customer_json: CustomerMinifiedJson | None = None,
) -> LedgerEntryJson:
    entry, block, customer = view.entry, view.block, view.customer
    common: _EntryJson = {
        "id": entry.id,
        "entry_status": view.status,
        "ledger_sequence_number": entry.seq,
        "amount": entry.amount,
        "starting_balance": entry.starting_balance,
        "ending_balance": entry.ending_balance,
        "currency": entry.currency,
        "created_at": at(entry.created_at),
        "credit_block": block_json or affected_block_json(block),
        "customer": customer_json or customer_minified(customer),
        "description": entry.description,
        # R-META-2: an increment reports its block's live metadata.
        "metadata": dict(block.metadata if entry.entry_type == "increment" else entry.metadata),
    }
    kind = entry.entry_type
    if kind == "increment":
        # R-INC-5: the invoice this increment created, in its current state.
        invoice = view.invoice
        increment: IncrementLedgerEntryJson = {
            **common, "entry_type": "increment",
            "created_invoices": None if invoice is None else [invoice_json(invoice, customer)],
        }  # fmt: skip
        return increment
    if kind == "decrement":
        decrement: DecrementLedgerEntryJson = {
            **common, "entry_type": "decrement", "event_id": None, "invoice_id": None,
            "price_id": None,
        }  # fmt: skip
        return decrement
    if kind == "expiration_change":
        change: ExpirationChangeLedgerEntryJson = {
            **common, "entry_type": "expiration_change",
            "new_block_expiry_date": day(entry.new_block_expiry_date),
        }  # fmt: skip
        return change
    if kind == "void":
        assert entry.void_amount is not None
        void: VoidLedgerEntryJson = {
            **common, "entry_type": "void", "void_amount": entry.void_amount,
            "void_reason": entry.void_reason,
        }  # fmt: skip
        return void
    if kind == "void_initiated":
        assert entry.void_amount is not None and entry.new_block_expiry_date is not None
        initiated: VoidInitiatedLedgerEntryJson = {
            **common, "entry_type": "void_initiated", "void_amount": entry.void_amount,
            "void_reason": entry.void_reason,
            "new_block_expiry_date": day(entry.new_block_expiry_date),
        }  # fmt: skip
        return initiated
    if kind == "credit_block_expiry":
        expiry: CreditBlockExpiryLedgerEntryJson = {**common, "entry_type": "credit_block_expiry"}
        return expiry
    amendment: AmendmentLedgerEntryJson = {**common, "entry_type": "amendment"}
    return amendment
