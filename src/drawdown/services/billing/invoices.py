"""Invoice use cases (§2.6): fetch, list, update, mark paid, void, issue (drafts: R-DRF-1..3).

State changes run in the invoice's customer's write transaction, because paying or voiding
an invoice changes the block it bought (R-INV-5/6) and may fire a top-up (R-TOP-3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from drawdown.ledger import commands
from drawdown.ledger.dates import resolve_bounds, resolve_instant
from drawdown.records import Customer, Invoice
from drawdown.services import metadata as meta
from drawdown.services.billing import invoicing, top_ups
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    find_customer,
    live_customer,
    owners,
    run_command,
)
from drawdown.store import invoices as store
from drawdown.store.tx import Tx

DEFAULT_STATUSES = ("issued", "paid", "synced")


@dataclass(frozen=True)
class InvoiceView:
    """An invoice with its customer: everything its wire form needs."""

    invoice: Invoice
    customer: Customer


# --- reads --------------------------------------------------------------------------------


def _invoice_and_customer(tx: Tx, invoice_id: str) -> InvoiceView:
    invoice = store.get(tx, invoice_id)
    if invoice is None:
        raise ResourceNotFound("Invoice", invoice_id)
    return InvoiceView(invoice, find_customer(tx, CustomerRef(id=invoice.customer_id)))


def get_invoice(ctx: ServiceContext, invoice_id: str) -> InvoiceView:
    with ctx.db.read() as tx:
        return _invoice_and_customer(tx, invoice_id)


def owner_of(ctx: ServiceContext, invoice_id: str) -> CustomerRef:
    """The customer an invoice belongs to (never changes), or 404."""
    return CustomerRef(id=get_invoice(ctx, invoice_id).customer.id)


@dataclass(frozen=True)
class InvoiceQuery:
    customer: CustomerRef | None
    statuses: Sequence[str]
    invoice_date: Sequence[tuple[str, str]]
    due_date: Sequence[tuple[str, str]]
    amount: Sequence[tuple[str, Decimal]]
    after: tuple[datetime, datetime, str] | None
    limit: int
    subscription_id: str | None = None


def list_invoices(ctx: ServiceContext, query: InvoiceQuery) -> list[InvoiceView]:
    # Filters are checked before anything can short-cut to an empty page, so a bad date is
    # a 400 whatever else the query says.
    invoice_date = resolve_bounds(query.invoice_date, "UTC", field="invoice_date")
    due_date = _due_bounds(query.due_date)
    if query.subscription_id is not None:  # drawdown has no subscriptions: matches nothing
        return []
    with ctx.db.read() as tx:
        customer = None if query.customer is None else live_customer(tx, query.customer)
        if query.customer is not None and customer is None:
            return []  # a customer that does not exist has no invoices
        rows = store.list_page(
            tx,
            customer_id=None if customer is None else customer.id,
            statuses=query.statuses or DEFAULT_STATUSES,
            invoice_date=invoice_date,
            due_date=due_date,
            amount=query.amount,
            after=query.after,
            limit=query.limit,
        )
        customers = owners(tx, (row.customer_id for row in rows))
    return [InvoiceView(row, customers[row.customer_id]) for row in rows]


def _due_bounds(bounds: Sequence[tuple[str, str]]) -> list[tuple[str, datetime]]:
    """Due-date filters are dates (UTC days): `=D` is day D, `[gt]=D` after it, `[lt]=D` before."""
    result: list[tuple[str, datetime]] = []
    for op, value in bounds:
        field = "due_date" if op == "eq" else f"due_date[{op}]"
        start = resolve_instant(value, "UTC", field=field)
        if not _is_date(value):
            result.append((op, start))
        elif op == "eq":
            result += [("gte", start), ("lt", _next_day(start, field))]
        elif op in ("gt", "lte"):
            result.append(("gte" if op == "gt" else "lt", _next_day(start, field)))
        else:
            result.append(("lt" if op == "lt" else "gte", start))
    return result


def _next_day(start: datetime, field: str) -> datetime:
    try:
        return start + timedelta(days=1)
    except OverflowError as exc:  # 9999-12-31 has no next day
        raise InvalidField(field, "is out of range") from exc


def _is_date(value: str) -> bool:
    return len(value) == len("YYYY-MM-DD")


# --- state changes ----------------------------------------------------------------------


def _view(write: CustomerWrite, invoice_id: str) -> InvoiceView:
    return InvoiceView(invoicing.locked_invoice(write, invoice_id), write.customer)


@dataclass(frozen=True)
class Payment:
    """A `mark_paid` request as the API validated it."""

    payment_received_date: str
    external_id: str | None = None
    notes: str | None = None


def mark_paid(owner: CustomerRef, invoice_id: str, payment: Payment) -> Work[InvoiceView]:
    """E26: issued/synced → paid; a pending_payment block becomes drawable (R-INV-5)."""

    def pay(write: CustomerWrite) -> InvoiceView:
        # A malformed request is a validation error whatever state the invoice is in.
        received = resolve_instant(
            payment.payment_received_date, write.customer.timezone, field="payment_received_date"
        )
        invoice = invoicing.locked_invoice(write, invoice_id)
        if invoice.status not in ("issued", "synced"):
            raise ConstraintViolation(
                None, f"An invoice in status {invoice.status} cannot be paid."
            )
        store.update_fields(write.tx, write.customer_id, invoice_id, {
            "status": "paid", "paid_at": write.now, "payment_received_at": received,
            "payment_external_id": payment.external_id, "payment_notes": payment.notes,
        })  # fmt: skip
        block_id = invoicing.pending_block_id(write, invoice)
        if block_id is not None:
            activate = commands.Activate(block_id=block_id)
            run_command(write, invoice.ledger_currency, activate, block_ids=[block_id])
        return _view(write, invoice_id)

    return customer_work(owner, pay)


def void_invoice(owner: CustomerRef, invoice_id: str) -> Work[InvoiceView]:
    """E27: issued → void; voids a still-pending block (R-INV-6), ends its top-up (R-TOP-8)."""

    def void(write: CustomerWrite) -> InvoiceView:
        invoice = invoicing.locked_invoice(write, invoice_id)
        invoicing.void_invoice_in(write, invoice)
        if invoice.top_up_id is not None:
            top_ups.deactivate_by_id(write, invoice.top_up_id)
        return _view(write, invoice_id)

    return customer_work(owner, void)


@dataclass(frozen=True)
class InvoiceUpdate:
    """An `invoices.update` request as the API validated it. Metadata changes in any state
    when sent (null clears it, §1.6); the draft fields only on drafts."""

    drafts: invoicing.DraftChanges
    metadata: meta.MetadataPatch = None
    metadata_sent: bool = False


def update_invoice(
    owner: CustomerRef, invoice_id: str, request: InvoiceUpdate
) -> Work[InvoiceView]:
    """`invoices.update`: metadata (merged, §1.6) on any invoice; dates, terms and
    auto-collection on drafts only. Fields sent as null are not changes (§1.6)."""

    def update(write: CustomerWrite) -> InvoiceView:
        invoice = invoicing.locked_invoice(write, invoice_id)
        values: dict[str, Any] = {}
        if request.metadata_sent:
            settings = write.ctx.settings
            values["metadata"] = meta.updated(invoice.metadata, request.metadata, settings)
        changed = request.drafts.changed()
        if changed and invoice.status != "draft":
            field = changed[0]
            raise ConstraintViolation(
                field, f"{field} can only be changed on a draft invoice (this one is "
                f"{invoice.status})."
            )  # fmt: skip
        if changed:
            values.update(invoicing.draft_changes(write, invoice, request.drafts))
        if values:
            store.update_fields(write.tx, write.customer_id, invoice_id, values)
        return _view(write, invoice_id)

    return customer_work(owner, update)


def issue(owner: CustomerRef, invoice_id: str) -> Work[InvoiceView]:
    """E28: draft → issued. Drafts arise only with `DRAWDOWN_DRAFT_INVOICES=manual_issuance`,
    for customers with `auto_issuance: false` (`invoicing.manual_issuance`)."""

    def issue_draft(write: CustomerWrite) -> InvoiceView:
        invoice = invoicing.locked_invoice(write, invoice_id)
        if invoice.status != "draft":
            raise ConstraintViolation(
                None, f"An invoice in status {invoice.status} cannot be issued."
            )
        store.update_fields(
            write.tx, write.customer_id, invoice_id, {"status": "issued", "issued_at": write.now}
        )
        return _view(write, invoice_id)

    return customer_work(owner, issue_draft)


def on_blocks_deleted(write: CustomerWrite, block_ids: Sequence[str]) -> None:
    """R-DEL-4: draft invoices of deleted blocks are deleted, issued ones voided, paid kept."""
    for invoice in store.for_blocks(write.tx, write.customer_id, block_ids):
        if invoice.status == "draft":
            store.update_fields(write.tx, write.customer_id, invoice.id, {"deleted_at": write.now})
        elif invoice.status == "issued":
            store.update_fields(
                write.tx, write.customer_id, invoice.id, {"status": "void", "voided_at": write.now}
            )
