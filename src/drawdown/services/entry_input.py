"""The shape of a ledger-entry request (§3.5), shared by the API and the console.

`entry_request` checks a request body against the shape its `entry_type` selects and
returns that shape's validated, frozen model, which the planners (`services/credits/`)
read by attribute: the API and the console's forms accept exactly the same requests, and a
misspelt field is a type error, not a KeyError. Failures raise `InvalidRequest` naming
every bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from drawdown.ledger.amounts import decimal_string, to_decimal
from drawdown.services.errors import InvalidRequest, validation_errors_of

ENTRY_TYPES = (
    "increment", "decrement", "expiration_change", "credit_block_expiry", "void",
    "void_initiated", "amendment",
)  # fmt: skip


def _amount(value: object) -> Decimal:
    return to_decimal(value, field="amount")


def _cost_basis(value: object) -> Decimal:
    return decimal_string(value, field="per_unit_cost_basis")


Amount = Annotated[Decimal, BeforeValidator(_amount)]
DecimalString = Annotated[Decimal, BeforeValidator(_cost_basis)]


class _Strict(BaseModel):
    # Frozen: the planners read a request and never change it.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


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


class EntryCommon(_Strict):
    """The fields every entry shape has."""

    currency: str | None = None
    description: str | None = None
    metadata: dict[str, str | None] | None = None


class IncrementRequest(EntryCommon):
    entry_type: Literal["increment"]
    amount: Amount
    effective_date: str | None = None
    expiry_date: str | None = None
    per_unit_cost_basis: DecimalString | None = None
    filters: list[FilterIn] | None = None
    invoice_settings: IncrementInvoiceSettings | None = None


class DecrementRequest(EntryCommon):
    entry_type: Literal["decrement"]
    amount: Amount


class ExpirationChangeRequest(EntryCommon):
    entry_type: Literal["expiration_change"]
    target_expiry_date: str
    block_id: str | None = None
    expiry_date: str | None = None
    amount: Amount | None = None


class VoidRequest(EntryCommon):
    entry_type: Literal["void"]
    block_id: str
    amount: Amount
    void_reason: Literal["refund"] | None = None


class AmendmentRequest(EntryCommon):
    entry_type: Literal["amendment"]
    block_id: str
    amount: Amount


EntryRequest = (
    IncrementRequest | DecrementRequest | ExpirationChangeRequest | VoidRequest | AmendmentRequest
)
R = TypeVar("R", bound=EntryCommon)

ENTRY_REQUESTS: Mapping[str, type[EntryRequest]] = {
    "increment": IncrementRequest,
    "decrement": DecrementRequest,
    "expiration_change": ExpirationChangeRequest,
    "void": VoidRequest,
    "amendment": AmendmentRequest,
}

# Fields that belong to some entry shape; sending one to a shape that lacks it is an error
# (docs/rules.md Q29), so that a misplaced `expiry_date` on a decrement does not silently vanish.
SHAPE_FIELDS = frozenset(field for model in ENTRY_REQUESTS.values() for field in model.model_fields)
# Per shape, its entry_type and the other shapes' fields (computed once: pydantic's
# `model_fields` is slow).
_FOREIGN: Mapping[type[EntryCommon], tuple[str, tuple[str, ...]]] = {
    model: (entry_type, tuple(sorted(SHAPE_FIELDS - set(model.model_fields))))
    for entry_type, model in ENTRY_REQUESTS.items()
}


def entry_request(raw: Mapping[str, Any]) -> EntryRequest:
    """Validate an entry request against the shape its `entry_type` selects (§3.5)."""
    entry_type = raw.get("entry_type")
    if not isinstance(entry_type, str) or entry_type not in ENTRY_REQUESTS:
        raise InvalidRequest.one("entry_type", f"must be one of {', '.join(ENTRY_REQUESTS)}")
    return shaped(ENTRY_REQUESTS[entry_type], raw)


def shaped(model: type[R], raw: Mapping[str, Any]) -> R:
    """Validate a request against one entry shape; another shape's field is an error (Q29)."""
    try:
        request = model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRequest(validation_errors_of(exc)) from exc
    entry_type, foreign_fields = _FOREIGN[model]
    foreign = [k for k in foreign_fields if raw.get(k) is not None]
    if foreign:
        raise InvalidRequest.one(foreign[0], f"is not allowed for entry_type {entry_type}")
    return request
