"""Wire models for the credit ledger: entry requests (§3.5) and entry/block objects (§3.2–3.4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.engine import RowMapping

from drawdown.api.schemas.customers import customer_minified
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant
from drawdown.ledger.model import Block, Entry


def _amount(value: object) -> Decimal:
    return to_decimal(value, field="amount")


def _decimal_string(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError("must be a decimal string")
    return to_decimal(value, field="per_unit_cost_basis")


Amount = Annotated[Decimal, BeforeValidator(_amount)]
DecimalString = Annotated[Decimal, BeforeValidator(_decimal_string)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class FilterIn(_Strict):
    field: Literal["item_id"]
    operator: Literal["includes", "excludes"]
    values: list[str] = Field(min_length=1)


class IncrementInvoiceSettings(_Strict):
    auto_collection: bool
    net_terms: int | None = None
    custom_due_date: str | None = None
    invoice_date: str | None = None
    memo: str | None = None
    item_id: str | None = None
    mark_as_paid: bool | None = None
    require_successful_payment: bool | None = None


class _EntryRequest(_Strict):
    currency: str | None = None
    description: str | None = None
    metadata: dict[str, str | None] | None = None


class IncrementRequest(_EntryRequest):
    entry_type: Literal["increment"]
    amount: Amount
    effective_date: str | None = None
    expiry_date: str | None = None
    per_unit_cost_basis: DecimalString | None = None
    filters: list[FilterIn] | None = None
    invoice_settings: IncrementInvoiceSettings | None = None


class DecrementRequest(_EntryRequest):
    entry_type: Literal["decrement"]
    amount: Amount


class ExpirationChangeRequest(_EntryRequest):
    entry_type: Literal["expiration_change"]
    target_expiry_date: str
    block_id: str | None = None
    expiry_date: str | None = None
    amount: Amount | None = None


class VoidRequest(_EntryRequest):
    entry_type: Literal["void"]
    block_id: str
    amount: Amount
    void_reason: Literal["refund"] | None = None


class AmendmentRequest(_EntryRequest):
    entry_type: Literal["amendment"]
    block_id: str
    amount: Amount


ENTRY_REQUESTS: Mapping[str, type[_EntryRequest]] = {
    "increment": IncrementRequest,
    "decrement": DecrementRequest,
    "expiration_change": ExpirationChangeRequest,
    "void": VoidRequest,
    "amendment": AmendmentRequest,
}

# Fields that belong to some entry shape; sending one to a shape that lacks it is an error
# (spec Q29), so that a misplaced `expiry_date` on a decrement does not silently vanish.
SHAPE_FIELDS = frozenset(field for model in ENTRY_REQUESTS.values() for field in model.model_fields)


def _instant(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value, fractions=False)


def filters_json(block: Block) -> list[dict[str, Any]]:
    return [
        {"field": f.field, "operator": f.operator, "values": list(f.values)} for f in block.filters
    ]


def cost_basis_json(block: Block) -> str | None:
    return None if block.per_unit_cost_basis is None else str(block.per_unit_cost_basis)


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


def entry_json(
    entry: Entry,
    block: Block,
    customer: RowMapping,
    status: str,
    created_invoices: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": entry.id,
        "entry_type": entry.entry_type,
        "entry_status": status,
        "ledger_sequence_number": entry.seq,
        "amount": entry.amount,
        "starting_balance": entry.starting_balance,
        "ending_balance": entry.ending_balance,
        "currency": entry.currency,
        "created_at": format_instant(entry.created_at, fractions=True),
        "credit_block": affected_block_json(block),
        "customer": customer_minified(customer),
        "description": entry.description,
        # R-META-2: an increment reports its block's live metadata.
        "metadata": dict(block.metadata if entry.entry_type == "increment" else entry.metadata),
    }
    body.update(_type_specific(entry, created_invoices))
    return body


def _type_specific(entry: Entry, created_invoices: list[dict[str, Any]] | None) -> dict[str, Any]:
    kind = entry.entry_type
    if kind == "increment":
        return {"created_invoices": created_invoices}
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
