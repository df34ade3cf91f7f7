"""Wire form of invoices (§3.7), top-ups (§3.6) and their request bodies."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from drawdown.api.schemas.customers import (
    AddressJson,
    CustomerMinifiedJson,
    CustomerTaxIdJson,
    address_json,
    customer_minified,
    tax_id_json,
)
from drawdown.api.schemas.instants import at, day
from drawdown.api.schemas.money import money_text
from drawdown.api.schemas.wire import (
    DecimalString,
    Doc,
    EmptyList,
    Enum,
    Instant,
    Metadata,
    Money,
    Null,
    Number,
)
from drawdown.records import BalanceTransaction, CreditNote, Customer, Invoice, TopUp

# Orb writes a credit note's reason for people ("Order change"); requests use the enum.
REASON_TEXT = {
    "duplicate": "Duplicate", "fraudulent": "Fraudulent", "order_change": "Order change",
    "product_unsatisfactory": "Product unsatisfactory",
}  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class MarkPaidRequest(_Strict):
    payment_received_date: str
    external_id: str | None = None
    notes: str | None = None


class InvoiceUpdateRequest(_Strict):
    metadata: dict[str, str | None] | None = None
    due_date: str | None = None
    invoice_date: str | None = None
    net_terms: int | None = None
    auto_collection: bool | None = None


class TopUpInvoiceSettings(_Strict):
    auto_collection: bool
    net_terms: int
    memo: str | None = None
    require_successful_payment: bool | None = None


class TopUpRequest(_Strict):
    currency: str
    threshold: str
    amount: str
    per_unit_cost_basis: str
    invoice_settings: TopUpInvoiceSettings
    active_from: str | None = None
    expires_after: int | None = None
    expires_after_unit: Literal["day", "month"] | None = None


InvoiceStatus = Annotated[str, Enum("draft", "issued", "paid", "synced", "void")]
CreditNoteReason = Annotated[str, Enum(*REASON_TEXT.values())]
CreditNoteType = Annotated[str, Enum("refund", "adjustment")]


class _ItemJson(TypedDict):
    id: str
    name: str


class _UnitConfigJson(TypedDict):
    unit_amount: Money


class _BillingCycleJson(TypedDict):
    duration: int
    duration_unit: str


class PriceJson(TypedDict):
    """A synthetic one-time unit price for the credits bought."""

    id: str
    name: str
    model_type: Literal["unit"]
    price_type: Literal["fixed_price"]
    cadence: Literal["one_time"]
    billing_mode: Literal["in_advance"]
    currency: str
    created_at: Instant
    item: _ItemJson
    unit_config: _UnitConfigJson
    billing_cycle_configuration: _BillingCycleJson
    metadata: Metadata
    fixed_price_quantity: Number
    billable_metric: Null
    conversion_rate: Null
    credit_allocation: Null
    discount: Null
    external_price_id: Null
    invoice_grouping_key: Null
    invoicing_cycle_configuration: Null
    maximum: Null
    maximum_amount: Null
    minimum: Null
    minimum_amount: Null
    plan_phase_order: Null
    replaces_price_id: Null
    composite_price_filters: Null
    conversion_rate_config: Null
    dimensional_price_configuration: Null
    license_type: Null


class InvoiceLineItemJson(TypedDict):
    id: str
    name: str
    quantity: Number
    subtotal: Money
    adjusted_subtotal: Money
    amount: Money
    credits_applied: Money
    partially_invoiced_amount: Money
    start_date: Instant
    end_date: Instant
    adjustments: EmptyList
    sub_line_items: EmptyList
    tax_amounts: EmptyList
    filter: Null
    grouping: Null
    usage_customer_ids: Null
    price: PriceJson


class InvoiceCreditNoteJson(TypedDict):
    """A credit note as its invoice lists it."""

    id: str
    credit_note_number: str
    memo: str | None
    reason: CreditNoteReason
    total: Money
    type: CreditNoteType
    voided_at: Instant | None


class _IdJson(TypedDict):
    id: str


class CustomerBalanceTransactionJson(TypedDict):
    """A move of the customer's cash balance (money, not credits)."""

    id: str
    action: Annotated[str, Enum("manual_adjustment", "credit_note_applied")]
    amount: Money
    created_at: Instant
    credit_note: _IdJson | None
    description: str | None
    ending_balance: Money
    invoice: _IdJson | None
    starting_balance: Money
    type: Annotated[str, Enum("increment", "decrement")]


class _AutoCollectionJson(TypedDict):
    enabled: bool
    next_attempt_at: Null
    num_attempts: Null
    previously_attempted_at: Null


class InvoiceJson(TypedDict):
    """An invoice for a credit purchase (docs/rules.md §3.7). `amount_due` is `total` less its
    `adjustment` credit notes."""

    id: str
    invoice_number: str
    invoice_source: Literal["one_off"]
    status: InvoiceStatus
    currency: str
    customer: CustomerMinifiedJson
    created_at: Instant
    invoice_date: Instant
    due_date: Instant | None
    issued_at: Instant | None
    paid_at: Instant | None
    payment_received_at: Instant | None
    voided_at: Instant | None
    subtotal: Money
    total: Money
    amount_due: Money
    memo: str | None
    metadata: Metadata
    auto_collection: _AutoCollectionJson
    line_items: list[InvoiceLineItemJson]
    credit_notes: list[InvoiceCreditNoteJson]
    customer_balance_transactions: list[CustomerBalanceTransactionJson]
    discounts: EmptyList
    payment_attempts: EmptyList
    discount: Null
    hidden_line_item_count: int
    will_auto_issue: bool
    eligible_to_issue_at: Annotated[Instant | None, Doc("A draft's creation time; null otherwise.")]
    billing_address: AddressJson | None
    shipping_address: AddressJson | None
    customer_tax_id: CustomerTaxIdJson | None
    hosted_invoice_url: Null
    invoice_pdf: Null
    issue_failed_at: Null
    maximum: Null
    maximum_amount: Null
    minimum: Null
    minimum_amount: Null
    payment_failed_at: Null
    payment_started_at: Null
    scheduled_issue_at: Null
    subscription: Null
    sync_failed_at: Null


class CreditBlockInvoiceJson(TypedDict):
    id: str
    invoice_number: str
    status: InvoiceStatus
    customer: CustomerMinifiedJson
    subscription: Null


class _TopUpInvoiceSettingsJson(TypedDict):
    auto_collection: bool
    net_terms: int
    memo: str | None
    require_successful_payment: bool | None


class TopUpJson(TypedDict):
    """An automatic top-up (docs/rules.md §3.6)."""

    id: str
    currency: str
    amount: DecimalString
    threshold: DecimalString
    per_unit_cost_basis: DecimalString
    invoice_settings: _TopUpInvoiceSettingsJson
    expires_after: int | None
    expires_after_unit: Annotated[str, Enum("day", "month")] | None


_money = money_text


def invoice_json(row: Invoice, customer: Customer) -> InvoiceJson:
    total = _money(row.total, row.currency)
    draft = row.status == "draft"
    return {
        "id": row.id, "invoice_number": row.invoice_number, "invoice_source": "one_off",
        "status": row.status, "currency": row.currency,
        "customer": customer_minified(customer),
        "created_at": at(row.created_at), "invoice_date": day(row.invoice_date),
        "due_date": day(row.due_date), "issued_at": at(row.issued_at),
        "paid_at": at(row.paid_at), "payment_received_at": at(row.payment_received_at),
        "voided_at": at(row.voided_at),
        "subtotal": total, "total": total,
        "amount_due": _money(row.total - row.adjusted, row.currency), "memo": row.memo,
        "metadata": dict(row.metadata),
        "auto_collection": {
            "enabled": row.auto_collection, "next_attempt_at": None,
            "num_attempts": None, "previously_attempted_at": None,
        },
        "line_items": [_line_item(row, total)],
        "credit_notes": [credit_note_summary_json(note) for note in row.credit_notes],
        "customer_balance_transactions": [
            balance_transaction_json(move) for move in row.balance_transactions
        ],
        "discounts": [], "payment_attempts": [], "discount": None, "hidden_line_item_count": 0,
        "will_auto_issue": False,
        # A draft may be issued at once (E28): it waits for nothing but the call.
        "eligible_to_issue_at": at(row.created_at) if draft else None,
        "billing_address": address_json(customer.billing_address),
        "shipping_address": address_json(customer.shipping_address),
        "customer_tax_id": tax_id_json(customer.tax_id),
        "hosted_invoice_url": None, "invoice_pdf": None, "issue_failed_at": None,
        "maximum": None, "maximum_amount": None, "minimum": None, "minimum_amount": None,
        "payment_failed_at": None, "payment_started_at": None, "scheduled_issue_at": None,
        "subscription": None, "sync_failed_at": None,
    }  # fmt: skip


def _line_item(row: Invoice, total: str) -> InvoiceLineItemJson:
    invoice_date = day(row.invoice_date)
    return {
        "id": row.line_item_id, "name": row.item_name, "quantity": row.quantity,
        "subtotal": total, "adjusted_subtotal": total, "amount": total,
        "credits_applied": "0.00", "partially_invoiced_amount": "0.00",
        "start_date": invoice_date, "end_date": invoice_date,
        "adjustments": [], "sub_line_items": [], "tax_amounts": [],
        "filter": None, "grouping": None, "usage_customer_ids": None,
        "price": _price(row),
    }  # fmt: skip


def _price(row: Invoice) -> PriceJson:
    return {
        "id": row.price_id, "name": row.item_name, "model_type": "unit",
        "price_type": "fixed_price", "cadence": "one_time", "billing_mode": "in_advance",
        "currency": row.currency, "created_at": at(row.created_at),
        "item": {"id": row.item_id, "name": row.item_name},
        "unit_config": {"unit_amount": row.unit_amount},
        "billing_cycle_configuration": {"duration": 1, "duration_unit": "month"},
        "metadata": {}, "fixed_price_quantity": row.quantity,
        "billable_metric": None, "conversion_rate": None, "credit_allocation": None,
        "discount": None, "external_price_id": None, "invoice_grouping_key": None,
        "invoicing_cycle_configuration": None, "maximum": None, "maximum_amount": None,
        "minimum": None, "minimum_amount": None, "plan_phase_order": None,
        "replaces_price_id": None, "composite_price_filters": None,
        "conversion_rate_config": None, "dimensional_price_configuration": None,
        "license_type": None,
    }  # fmt: skip


def credit_note_summary_json(note: CreditNote) -> InvoiceCreditNoteJson:
    """A credit note as an invoice lists it (`Invoice.credit_notes`)."""
    return {
        "id": note.id, "credit_note_number": note.credit_note_number, "memo": note.memo,
        "reason": REASON_TEXT[note.reason], "total": _money(note.total, note.currency),
        "type": note.type, "voided_at": at(note.voided_at),
    }  # fmt: skip


def balance_transaction_json(move: BalanceTransaction) -> CustomerBalanceTransactionJson:
    """A cash-balance transaction (`customers.balance_transactions`, `Invoice.…`)."""
    money = move.currency
    return {
        "id": move.id, "action": move.action, "amount": _money(move.amount, money),
        "created_at": at(move.created_at),
        "credit_note": None if move.credit_note_id is None else {"id": move.credit_note_id},
        "description": move.description,
        "ending_balance": _money(move.ending_balance, money),
        "invoice": None if move.invoice_id is None else {"id": move.invoice_id},
        "starting_balance": _money(move.starting_balance, money), "type": move.type,
    }  # fmt: skip


def invoice_summary_json(row: Invoice, customer: Customer) -> CreditBlockInvoiceJson:
    return {
        "id": row.id,
        "invoice_number": row.invoice_number,
        "status": row.status,
        "customer": customer_minified(customer),
        "subscription": None,
    }


def top_up_json(row: TopUp) -> TopUpJson:
    return {
        "id": row.id, "currency": row.currency, "amount": row.amount,
        "threshold": row.threshold, "per_unit_cost_basis": row.per_unit_cost_basis,
        "invoice_settings": {
            "auto_collection": row.auto_collection, "net_terms": row.net_terms,
            "memo": row.memo, "require_successful_payment": row.require_successful_payment,
        },
        "expires_after": row.expires_after, "expires_after_unit": row.expires_after_unit,
    }  # fmt: skip
