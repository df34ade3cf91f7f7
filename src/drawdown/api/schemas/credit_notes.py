"""Wire form of credit notes and cash-balance transactions, and their request bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from drawdown.api.errors import invalid
from drawdown.api.schemas.customers import CustomerMinifiedJson, customer_minified
from drawdown.api.schemas.instants import at
from drawdown.api.schemas.invoices import REASON_TEXT, CreditNoteReason, CreditNoteType
from drawdown.api.schemas.money import money_text
from drawdown.api.schemas.wire import Doc, EmptyList, Instant, Money, Null, Number
from drawdown.records import CreditNoteLine
from drawdown.services.billing.credit_notes import CreditNoteRequest, CreditNoteView, LineRequest
from drawdown.services.billing.money import positive_money
from drawdown.settings import Settings

LINE_ITEMS_MAX = 50  # an invoice for credits has one line item; this only bounds the work

Reason = Literal["duplicate", "fraudulent", "order_change", "product_unsatisfactory"]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class CreditNoteLineItemRequest(_Strict):
    amount: str
    invoice_line_item_id: str = Field(min_length=1)
    start_date: str | None = None
    end_date: str | None = None


class CreditNoteCreateRequest(_Strict):
    line_items: list[CreditNoteLineItemRequest] = Field(min_length=1, max_length=LINE_ITEMS_MAX)
    reason: Reason
    memo: str | None = None
    start_date: str | None = None
    end_date: str | None = None


class BalanceTransactionCreateRequest(_Strict):
    amount: str
    type: Literal["increment", "decrement"]
    description: str | None = None


def credit_note_request(body: CreditNoteCreateRequest, settings: Settings) -> CreditNoteRequest:
    """The checked request: amounts are positive decimals, the memo within its limit."""
    if body.memo is not None and len(body.memo) > settings.description_length_max:
        raise invalid("memo", f"must be at most {settings.description_length_max} characters")
    lines = tuple(
        LineRequest(
            line.invoice_line_item_id, positive_money(line.amount, field=f"line_items.{i}.amount"),
            line.start_date, line.end_date,
        )
        for i, line in enumerate(body.line_items)
    )  # fmt: skip
    return CreditNoteRequest(lines, body.reason, body.memo, body.start_date, body.end_date)


def balance_transaction_fields(
    body: BalanceTransactionCreateRequest, settings: Settings
) -> dict[str, Any]:
    description = body.description
    if description is not None and len(description) > settings.description_length_max:
        raise invalid(
            "description", f"must be at most {settings.description_length_max} characters"
        )
    amount = positive_money(body.amount, field="amount")
    return {"amount": amount, "type": body.type, "description": description}


class CreditNoteLineItemJson(TypedDict):
    id: str
    amount: Money
    item_id: str
    name: str
    quantity: Annotated[Number, Doc("Credits the credit note took back (voided).")]
    subtotal: Money
    tax_amounts: EmptyList
    discounts: EmptyList
    start_time_inclusive: Instant
    end_time_exclusive: Instant


class CreditNoteJson(TypedDict):
    """A credit note: `refund` on a paid invoice (credits the cash balance), `adjustment` on
    an issued one (lowers its amount due); either way the credits it bought are voided
    (`void_reason: refund`)."""

    id: str
    created_at: Instant
    credit_note_number: str
    credit_note_pdf: Null
    customer: CustomerMinifiedJson
    invoice_id: str
    line_items: list[CreditNoteLineItemJson]
    maximum_amount_adjustment: Null
    memo: str | None
    minimum_amount_refunded: Null
    reason: CreditNoteReason
    subtotal: Money
    total: Money
    type: CreditNoteType
    voided_at: Instant | None
    discounts: EmptyList


def credit_note_json(view: CreditNoteView) -> CreditNoteJson:
    note = view.note
    total = money_text(note.total, note.currency)
    return {
        "id": note.id, "created_at": at(note.created_at),
        "credit_note_number": note.credit_note_number, "credit_note_pdf": None,
        "customer": customer_minified(view.customer), "invoice_id": note.invoice_id,
        "line_items": [_line_json(line, note.currency) for line in note.line_items],
        "maximum_amount_adjustment": None, "memo": note.memo, "minimum_amount_refunded": None,
        "reason": REASON_TEXT[note.reason], "subtotal": total, "total": total,
        "type": note.type, "voided_at": at(note.voided_at), "discounts": [],
    }  # fmt: skip


def _line_json(line: CreditNoteLine, currency: str) -> CreditNoteLineItemJson:
    amount = money_text(line.amount, currency)
    return {
        "id": line.id, "amount": amount, "item_id": line.item_id, "name": line.name,
        "quantity": line.quantity, "subtotal": amount, "tax_amounts": [], "discounts": [],
        "start_time_inclusive": at(line.start_at), "end_time_exclusive": at(line.end_at),
    }  # fmt: skip
