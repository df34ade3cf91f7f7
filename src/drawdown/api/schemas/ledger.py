"""Wire form of credit blocks (§3.2), affected blocks (§3.3) and ledger entries (§3.4).

Entry *requests* are validated in `services/entry_input.py`, shared with the console.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypedDict, Union

import orjson

from drawdown.api.jsonio import dumps
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
from drawdown.ledger.model import Block, BlockStatus, Entry, EntryStatus
from drawdown.services.credits.memo import EntryMemo
from drawdown.services.credits.views import BlockView, EntryView, PageEntry


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


def entry_json(
    view: EntryView,
    block_json: AffectedBlockJson | None = None,
    customer_json: CustomerMinifiedJson | None = None,
) -> LedgerEntryJson:
    entry, block, customer = view.entry, view.block, view.customer
    increment = entry.entry_type == "increment"
    invoice = view.invoice
    return _entry_body(
        entry,
        status=view.status,
        block=block_json or affected_block_json(block),
        customer=customer_json or customer_minified(customer),
        # R-META-2: an increment reports its block's live metadata.
        metadata=_dict(block.metadata if increment else entry.metadata),
        # R-INC-5: the invoice this increment created, in its current state.
        invoices=None if invoice is None else [invoice_json(invoice, customer)],
    )


def _dict(metadata: Mapping[str, str]) -> dict[str, str]:
    return dict(metadata) if metadata else {}  # most have none: skip the Mapping protocol


def _entry_body(
    entry: Entry, *, status: Any, block: Any, customer: Any, metadata: Any, invoices: Any
) -> LedgerEntryJson:
    """An entry's wire form from the entry and the parts of it that can change, which come
    as they are (`entry_json`) or as holes to fill in later (`entry_template`)."""
    common: _EntryJson = {
        "id": entry.id,
        "entry_status": status,
        "ledger_sequence_number": entry.seq,
        "amount": entry.amount,
        "starting_balance": entry.starting_balance,
        "ending_balance": entry.ending_balance,
        "currency": entry.currency,
        "created_at": at(entry.created_at),
        "credit_block": block,
        "customer": customer,
        "description": entry.description,
        "metadata": metadata,
    }
    kind = entry.entry_type
    if kind == "increment":
        increment: IncrementLedgerEntryJson = {
            **common, "entry_type": "increment", "created_invoices": invoices,
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


# --- ledger pages: what never changes rendered once per entry (issue 20) --------------------

# The parts of an entry that can change, in the order `_entry_body` writes them.
STATUS, BLOCK, CUSTOMER, METADATA, INVOICES = range(5)
_HOLES = [orjson.Fragment(b"\x00" + str(hole).encode()) for hole in range(5)]
_HOLE = re.compile(b"\x00([0-4])")  # orjson escapes NUL in strings: a raw one is a hole
_HOLES_IN_ORDER = [b"0", b"1", b"2"]  # as `_HOLE` finds them, in the order `page_json` fills
_INCREMENT_HOLES = [b"0", b"1", b"2", b"3", b"4"]
_STATUSES: dict[str, bytes] = {status: dumps(status) for status in ("committed", "pending")}
ENTRIES_REMEMBERED = 10_000  # a process's entry templates, about 1 KiB each with their keys


# An entry's JSON cut at the parts that can change: `parts[0]`, then what is at each hole
# now (status, block, customer; for an increment also metadata and invoices), each followed
# by the next part.
EntryTemplate = tuple[bytes, ...]


def entry_template(entry: Entry) -> EntryTemplate:
    """The entry's wire form (the same `_entry_body` as `entry_json`), encoded once with
    its status, block, customer and, for an increment, metadata (R-META-2) and invoice
    (R-INC-5) left as holes."""
    increment = entry.entry_type == "increment"
    body = _entry_body(entry, status=_HOLES[STATUS], block=_HOLES[BLOCK],
                       customer=_HOLES[CUSTOMER],
                       metadata=_HOLES[METADATA] if increment else _dict(entry.metadata),
                       invoices=_HOLES[INVOICES])  # fmt: skip
    pieces = _HOLE.split(dumps(body))
    assert pieces[1::2] == (_INCREMENT_HOLES if increment else _HOLES_IN_ORDER), pieces
    return tuple(pieces[0::2])


ENTRY_TEMPLATES: EntryMemo[EntryTemplate] = EntryMemo(entry_template, ENTRIES_REMEMBERED)


def page_json(page: Sequence[PageEntry[EntryTemplate]]) -> list[orjson.Fragment]:
    """A listed page: each entry its template filled with what is there now, the parts
    entries share (their block, the customer) encoded once. The same bytes `entry_json`
    would encode (tests/api/test_ledger_page.py)."""
    blocks: dict[str, bytes] = {}
    metadata: dict[str, bytes] = {}
    customers: dict[str, bytes] = {}
    rendered = []
    for item in page:
        block, customer = item.block, item.customer
        block_bytes = blocks.get(block.id)
        if block_bytes is None:
            block_bytes = blocks[block.id] = dumps(affected_block_json(block))
        customer_bytes = customers.get(customer.id)
        if customer_bytes is None:
            customer_bytes = customers[customer.id] = dumps(customer_minified(customer))
        parts = item.memo
        if item.head.entry_type != "increment":
            rendered.append(orjson.Fragment(b"".join((
                parts[0], _STATUSES[item.status], parts[1], block_bytes, parts[2],
                customer_bytes, parts[3]))))  # fmt: skip
            continue
        block_metadata = metadata.get(block.id)
        if block_metadata is None:
            block_metadata = metadata[block.id] = dumps(_dict(block.metadata))
        invoice = item.invoice
        invoices = dumps(None if invoice is None else [invoice_json(invoice, customer)])
        rendered.append(orjson.Fragment(b"".join((
            parts[0], _STATUSES[item.status], parts[1], block_bytes, parts[2], customer_bytes,
            parts[3], block_metadata, parts[4], invoices, parts[5]))))  # fmt: skip
    return rendered
