"""Invoices for purchased credits (§4.13): terms, totals, creation, and the block they gate.

drawdown never collects money; an invoice records what a block of credits cost and gates
`pending_payment` blocks until it is marked paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.ledger import BlockStatus, commands
from drawdown.ledger.amounts import format_scaled, money_product
from drawdown.ledger.dates import add_days_local, resolve_instant
from drawdown.records import Customer, Invoice
from drawdown.services.currencies import minor_units
from drawdown.services.entry_input import IncrementInvoiceSettings
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import CustomerWrite, run_command
from drawdown.store import invoices as store
from drawdown.store import ledger_tables as ledger_store

DEFAULT_ITEM_NAME = "Credits"
DEFAULT_ITEM_ID = "credits"
# Bounds calendar arithmetic: a due date must stay inside what datetime can represent.
NET_TERMS_DAYS_MAX = 36_500


@dataclass(frozen=True)
class InvoiceTerms:
    """What an invoice for a block needs, resolved (dates are instants)."""

    quantity: Decimal
    unit_amount: Decimal
    auto_collection: bool
    invoice_date: datetime
    due_date: datetime | None
    memo: str | None
    item_id: str | None
    mark_as_paid: bool
    require_successful_payment: bool
    net_terms: int | None = None  # None: a custom due date
    # False: an invoice that is not paid at creation starts as a draft (only with
    # `DRAWDOWN_DRAFT_INVOICES=manual_issuance`, for a customer with `auto_issuance: false`,
    # Orb's "invoices require manual approval"; by default R-INV-4 issues it).
    auto_issue: bool = True


def manual_issuance(write: CustomerWrite) -> bool:
    """Whether this customer's purchase invoices start as drafts (opt-in, see above)."""
    drafting = write.ctx.settings.draft_invoices == "manual_issuance"
    return drafting and write.customer.auto_issuance is False


def total_for(customer: Customer, quantity: Decimal, unit_amount: Decimal) -> Decimal:
    """R-INV-1: amount × cost basis, rounded half-up to the currency's minor unit."""
    return money_product(quantity, unit_amount, minor_units(customer.currency or ""))


def require_currency(customer: Customer, field: str) -> str:
    """R-CUR-5: anything that invoices needs the customer's real currency."""
    if customer.currency is None:
        raise ConstraintViolation(field, "the customer has no currency; set it before invoicing")
    return customer.currency


def terms_from_settings(
    write: CustomerWrite,
    settings: IncrementInvoiceSettings,
    quantity: Decimal,
    unit_amount: Decimal | None,
    effective_date: datetime,
) -> InvoiceTerms:
    """Resolve an increment's `invoice_settings` (R-INC-3, R-INV-2, R-INV-3)."""
    if unit_amount is None:
        raise InvalidField("per_unit_cost_basis", "is required when invoice_settings is given")
    net_terms, custom_due = settings.net_terms, settings.custom_due_date
    if (net_terms is None) == (custom_due is None):
        raise InvalidField(
            "invoice_settings.net_terms", "exactly one of net_terms or custom_due_date is required"
        )
    tz = write.customer.timezone
    raw_date = settings.invoice_date
    invoice_date = (
        resolve_instant(raw_date, tz, field="invoice_settings.invoice_date")
        if raw_date is not None
        else effective_date
    )
    return InvoiceTerms(
        quantity=quantity,
        unit_amount=unit_amount,
        auto_collection=settings.auto_collection,
        invoice_date=invoice_date,
        due_date=_due_date(invoice_date, net_terms, custom_due, tz),
        memo=settings.memo,
        item_id=settings.item_id,
        mark_as_paid=bool(settings.mark_as_paid),
        require_successful_payment=bool(settings.require_successful_payment),
        net_terms=net_terms,
        auto_issue=not manual_issuance(write),
    )


def _due_date(
    invoice_date: datetime, net_terms: int | None, custom: str | None, tz: str
) -> datetime:
    if net_terms is not None:
        check_net_terms(net_terms, "invoice_settings.net_terms")
        try:
            return add_days_local(invoice_date, net_terms, tz)
        except OverflowError as exc:  # a far invoice_date plus the terms passes year 9999
            raise InvalidField(
                "invoice_settings.net_terms", "puts the due date out of range"
            ) from exc
    assert custom is not None
    due = resolve_instant(custom, tz, field="invoice_settings.custom_due_date")
    if due < invoice_date:
        raise InvalidField(
            "invoice_settings.custom_due_date", "must not be before the invoice date"
        )
    return due


def check_net_terms(net_terms: int, field: str) -> None:
    if net_terms < 0:
        raise InvalidField(field, "must be greater than or equal to 0")
    if net_terms > NET_TERMS_DAYS_MAX:
        raise InvalidField(field, f"must be at most {NET_TERMS_DAYS_MAX}")


def status_for(customer: Customer, terms: InvoiceTerms) -> tuple[str, BlockStatus]:
    """R-INV-4: (invoice status, block status), first matching row wins; an invoice that
    is not paid at creation is a draft instead of issued when it may not auto-issue."""
    if terms.mark_as_paid:
        return "paid", "active"
    if total_for(customer, terms.quantity, terms.unit_amount) == 0:
        return "paid", "active"
    unpaid = "issued" if terms.auto_issue else "draft"
    if terms.require_successful_payment:
        return unpaid, "pending_payment"
    return unpaid, "active"


def create_invoice(
    write: CustomerWrite,
    invoice_id: str,
    terms: InvoiceTerms,
    *,
    block_id: str,
    ledger_currency: str,
    top_up_id: str | None = None,
) -> None:
    currency = require_currency(write.customer, "invoice_settings")
    status, _ = status_for(write.customer, terms)
    number = store.next_number(write.tx)
    store.insert(write.tx, {
        "customer_id": write.customer_id, "id": invoice_id,
        "invoice_number": f"DD-{number:06d}", "status": status, "currency": currency,
        "ledger_currency": ledger_currency, "block_id": block_id, "top_up_id": top_up_id,
        "created_at": write.now, "invoice_date": terms.invoice_date, "due_date": terms.due_date,
        "paid_at": write.now if status == "paid" else None,
        "payment_received_at": terms.invoice_date if terms.mark_as_paid else None,
        "voided_at": None, "total": total_for(write.customer, terms.quantity, terms.unit_amount),
        "quantity": terms.quantity, "unit_amount": format_scaled(terms.unit_amount),
        "memo": terms.memo,
        "auto_collection": terms.auto_collection,
        "item_id": terms.item_id or DEFAULT_ITEM_ID, "item_name": DEFAULT_ITEM_NAME,
        "line_item_id": write.ctx.new_id(), "price_id": write.ctx.new_id(),
        "metadata": {}, "issued_at": None if status == "draft" else write.now,
        "net_terms": terms.net_terms,
    })  # fmt: skip


def locked_invoice(write: CustomerWrite, invoice_id: str) -> Invoice:
    invoice = store.get(write.tx, invoice_id)
    if invoice is None or invoice.customer_id != write.customer_id:
        raise ResourceNotFound("Invoice", invoice_id)
    return invoice


def pending_block_id(write: CustomerWrite, invoice: Invoice) -> str | None:
    """The block this invoice bought, if it is still waiting for payment."""
    if invoice.block_id is None:
        return None
    block = ledger_store.block_by_id(write.tx, write.customer_id, invoice.block_id)
    if block is None or block.status != "pending_payment":
        return None
    return block.id


def void_invoice_in(write: CustomerWrite, invoice: Invoice) -> None:
    """E27 inside a customer's transaction: issued → void, and R-INV-6 for its block."""
    if invoice.status != "issued":
        raise ConstraintViolation(None, f"An invoice in status {invoice.status} cannot be voided.")
    store.update_fields(
        write.tx, write.customer_id, invoice.id, {"status": "void", "voided_at": write.now}
    )
    block_id = pending_block_id(write, invoice)
    if block_id is None:
        return
    block = write.state(invoice.ledger_currency, [block_id]).blocks[block_id]
    if block.balance > 0:
        command = commands.Void(block_id=block_id, amount=block.balance)
        run_command(write, invoice.ledger_currency, command, block_ids=[block_id])


@dataclass(frozen=True)
class DraftChanges:
    """What `invoices.update` may change on a draft only (Orb); None leaves it as it is."""

    invoice_date: str | None = None
    due_date: str | None = None
    net_terms: int | None = None
    auto_collection: bool | None = None

    def changed(self) -> list[str]:
        """The fields it changes, in the API's order (the first names a refusal)."""
        given = (
            ("invoice_date", self.invoice_date),
            ("due_date", self.due_date),
            ("net_terms", self.net_terms),
            ("auto_collection", self.auto_collection),
        )
        return [name for name, value in given if value is not None]  # fmt: skip


def draft_changes(write: CustomerWrite, invoice: Invoice, changes: DraftChanges) -> dict[str, Any]:
    """The columns a draft's `invoice_date`, `due_date`, `net_terms` and `auto_collection`
    change (Orb: only drafts), its due date kept consistent: net terms count from the
    (new) invoice date, a custom due date may not precede it."""
    tz = write.customer.timezone
    values: dict[str, Any] = {}
    if changes.auto_collection is not None:
        values["auto_collection"] = changes.auto_collection
    invoice_date = invoice.invoice_date
    if changes.invoice_date is not None:
        invoice_date = resolve_instant(changes.invoice_date, tz, field="invoice_date")
        values["invoice_date"] = invoice_date
    due: datetime | None = invoice.due_date
    net_terms = changes.net_terms if changes.net_terms is not None else invoice.net_terms
    if changes.due_date is not None:
        due = resolve_instant(changes.due_date, tz, field="due_date")
        values.update(due_date=due, net_terms=None)
    elif net_terms is not None:
        check_net_terms(net_terms, "net_terms")
        due = _plus_days(invoice_date, net_terms, tz)
        values.update(due_date=due, net_terms=net_terms)
    if due is not None and due < invoice_date:
        field = "due_date" if changes.due_date is not None else "invoice_date"
        raise InvalidField(field, "the due date must not be before the invoice date")
    return values


def _plus_days(instant: datetime, days: int, tz: str) -> datetime:
    try:
        return add_days_local(instant, days, tz)
    except OverflowError as exc:  # a far invoice_date plus the terms passes year 9999
        raise InvalidField("net_terms", "puts the due date out of range") from exc
