"""Wire form of invoices (§3.7), top-ups (§3.6) and their request bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drawdown.api.schemas.customers import address_json, customer_minified
from drawdown.api.schemas.money import money_text
from drawdown.ledger.dates import format_instant
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


_money = money_text


def _day(value: Any) -> str | None:
    return None if value is None else format_instant(value, fractions=False)


def _at(value: Any) -> str | None:
    return None if value is None else format_instant(value, fractions=True)


def invoice_json(row: Invoice, customer: Customer) -> dict[str, Any]:
    total = _money(row.total, row.currency)
    draft = row.status == "draft"
    return {
        "id": row.id, "invoice_number": row.invoice_number, "invoice_source": "one_off",
        "status": row.status, "currency": row.currency,
        "customer": customer_minified(customer),
        "created_at": _at(row.created_at), "invoice_date": _day(row.invoice_date),
        "due_date": _day(row.due_date), "issued_at": _at(row.issued_at),
        "paid_at": _at(row.paid_at), "payment_received_at": _at(row.payment_received_at),
        "voided_at": _at(row.voided_at),
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
        "eligible_to_issue_at": _at(row.created_at) if draft else None,
        "billing_address": address_json(customer.billing_address),
        "shipping_address": address_json(customer.shipping_address),
        "customer_tax_id": customer.tax_id,
        **{key: None for key in _NULL_INVOICE_FIELDS},
    }  # fmt: skip


_NULL_INVOICE_FIELDS = (
    "hosted_invoice_url",
    "invoice_pdf",
    "issue_failed_at",
    "maximum",
    "maximum_amount",
    "minimum",
    "minimum_amount",
    "payment_failed_at",
    "payment_started_at",
    "scheduled_issue_at",
    "subscription",
    "sync_failed_at",
)


def _line_item(row: Invoice, total: str) -> dict[str, Any]:
    invoice_date = _day(row.invoice_date)
    return {
        "id": row.line_item_id, "name": row.item_name, "quantity": row.quantity,
        "subtotal": total, "adjusted_subtotal": total, "amount": total,
        "credits_applied": "0.00", "partially_invoiced_amount": "0.00",
        "start_date": invoice_date, "end_date": invoice_date,
        "adjustments": [], "sub_line_items": [], "tax_amounts": [],
        "filter": None, "grouping": None, "usage_customer_ids": None,
        "price": _price(row),
    }  # fmt: skip


def _price(row: Invoice) -> dict[str, Any]:
    return {
        "id": row.price_id, "name": row.item_name, "model_type": "unit",
        "price_type": "fixed_price", "cadence": "one_time", "billing_mode": "in_advance",
        "currency": row.currency, "created_at": _at(row.created_at),
        "item": {"id": row.item_id, "name": row.item_name},
        "unit_config": {"unit_amount": row.unit_amount},
        "billing_cycle_configuration": {"duration": 1, "duration_unit": "month"},
        "metadata": {}, "fixed_price_quantity": row.quantity,
        **{key: None for key in _NULL_PRICE_FIELDS},
    }  # fmt: skip


_NULL_PRICE_FIELDS = (
    "billable_metric",
    "conversion_rate",
    "credit_allocation",
    "discount",
    "external_price_id",
    "invoice_grouping_key",
    "invoicing_cycle_configuration",
    "maximum",
    "maximum_amount",
    "minimum",
    "minimum_amount",
    "plan_phase_order",
    "replaces_price_id",
    "composite_price_filters",
    "conversion_rate_config",
    "dimensional_price_configuration",
    "license_type",
)


def credit_note_summary_json(note: CreditNote) -> dict[str, Any]:
    """A credit note as an invoice lists it (`Invoice.credit_notes`)."""
    return {
        "id": note.id, "credit_note_number": note.credit_note_number, "memo": note.memo,
        "reason": REASON_TEXT[note.reason], "total": _money(note.total, note.currency),
        "type": note.type, "voided_at": _at(note.voided_at),
    }  # fmt: skip


def balance_transaction_json(move: BalanceTransaction) -> dict[str, Any]:
    """A cash-balance transaction (`customers.balance_transactions`, `Invoice.…`)."""
    money = move.currency
    return {
        "id": move.id, "action": move.action, "amount": _money(move.amount, money),
        "created_at": _at(move.created_at),
        "credit_note": None if move.credit_note_id is None else {"id": move.credit_note_id},
        "description": move.description,
        "ending_balance": _money(move.ending_balance, money),
        "invoice": None if move.invoice_id is None else {"id": move.invoice_id},
        "starting_balance": _money(move.starting_balance, money), "type": move.type,
    }  # fmt: skip


def invoice_summary_json(row: Invoice, customer: Customer) -> dict[str, Any]:
    return {
        "id": row.id,
        "invoice_number": row.invoice_number,
        "status": row.status,
        "customer": customer_minified(customer),
        "subscription": None,
    }


def top_up_json(row: TopUp) -> dict[str, Any]:
    return {
        "id": row.id, "currency": row.currency, "amount": row.amount,
        "threshold": row.threshold, "per_unit_cost_basis": row.per_unit_cost_basis,
        "invoice_settings": {
            "auto_collection": row.auto_collection, "net_terms": row.net_terms,
            "memo": row.memo, "require_successful_payment": row.require_successful_payment,
        },
        "expires_after": row.expires_after, "expires_after_unit": row.expires_after_unit,
    }  # fmt: skip
