"""Wire form of credit blocks (§3.2), affected blocks (§3.3) and ledger entries (§3.4).

Entry *requests* are validated in `services/entry_input.py`, shared with the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from drawdown.api.schemas.customers import customer_minified
from drawdown.api.schemas.invoices import invoice_json
from drawdown.ledger.amounts import format_scaled
from drawdown.ledger.dates import format_instant
from drawdown.ledger.model import Block
from drawdown.services.credits.views import EntryView


def _instant(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value, fractions=False)


def filters_json(block: Block) -> list[dict[str, Any]]:
    return [
        {"field": f.field, "operator": f.operator, "values": list(f.values)} for f in block.filters
    ]


def cost_basis_json(block: Block) -> str | None:
    cost_basis = block.per_unit_cost_basis
    return None if cost_basis is None else format_scaled(cost_basis)


def block_json(block: Block) -> dict[str, Any]:
    return {
        "id": block.id,
        "balance": block.balance,
        "maximum_initial_balance": block.maximum_initial_balance,
        "effective_date": _instant(block.effective_date),
        "expiry_date": _instant(block.expiry_date),
        "per_unit_cost_basis": cost_basis_json(block),
        "filters": filters_json(block),
        "metadata": dict(block.metadata),
        "status": block.status,
        "credit_block_source": block.source,
        "credit_allocation": None,
        "credit_commitment": None,
    }


def affected_block_json(block: Block) -> dict[str, Any]:
    return {
        "id": block.id,
        "expiry_date": _instant(block.expiry_date),
        "per_unit_cost_basis": cost_basis_json(block),
        "filters": filters_json(block),
    }


def entries_json(views: Sequence[EntryView]) -> list[dict[str, Any]]:
    """A page of entries; the parts entries share (their block, the customer) are built once."""
    blocks: dict[str, dict[str, Any]] = {}
    customers: dict[str, dict[str, Any]] = {}
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
    block_json: dict[str, Any] | None = None,
    customer_json: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry, block, customer = view.entry, view.block, view.customer
    body: dict[str, Any] = {
        "id": entry.id,
        "entry_type": entry.entry_type,
        "entry_status": view.status,
        "ledger_sequence_number": entry.seq,
        "amount": entry.amount,
        "starting_balance": entry.starting_balance,
        "ending_balance": entry.ending_balance,
        "currency": entry.currency,
        "created_at": format_instant(entry.created_at, fractions=True),
        "credit_block": block_json or affected_block_json(block),
        "customer": customer_json or customer_minified(customer),
        "description": entry.description,
        # R-META-2: an increment reports its block's live metadata.
        "metadata": dict(block.metadata if entry.entry_type == "increment" else entry.metadata),
    }
    body.update(_type_specific(view))
    return body


def _type_specific(view: EntryView) -> dict[str, Any]:
    entry = view.entry
    kind = entry.entry_type
    if kind == "increment":
        # R-INC-5: the invoice this increment created, in its current state.
        invoice = view.invoice
        return {"created_invoices": None if invoice is None else
                [invoice_json(invoice, view.customer)]}  # fmt: skip
    if kind == "decrement":
        return {"event_id": None, "invoice_id": None, "price_id": None}
    if kind == "expiration_change":
        return {"new_block_expiry_date": _instant(entry.new_block_expiry_date)}
    if kind == "void":
        return {"void_amount": entry.void_amount, "void_reason": entry.void_reason}
    if kind == "void_initiated":
        return {
            "void_amount": entry.void_amount,
            "void_reason": entry.void_reason,
            "new_block_expiry_date": _instant(entry.new_block_expiry_date),
        }
    return {}
