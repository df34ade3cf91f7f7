"""Invoices for purchased credits (§2.6, §4.13): creation, payment, voiding, listing.

drawdown never collects money; an invoice records what a block of credits cost and
gates `pending_payment` blocks until it is marked paid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from drawdown.ledger import BlockStatus, commands
from drawdown.ledger.amounts import format_scaled, money_product
from drawdown.ledger.dates import add_days_local, resolve_bounds, resolve_instant
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import minor_units
from drawdown.services.customers import CustomerRef, find
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import CustomerTx, customer_transaction, run_command
from drawdown.store import invoices as store
from drawdown.store import ledger as ledger_store
from drawdown.store.engine import read_transaction

DEFAULT_ITEM_NAME = "Credits"
DEFAULT_ITEM_ID = "credits"
DEFAULT_STATUSES = ("issued", "paid", "synced")
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


def total_for(customer: RowMapping, quantity: Decimal, unit_amount: Decimal) -> Decimal:
    """R-INV-1: amount × cost basis, rounded half-up to the currency's minor unit."""
    return money_product(quantity, unit_amount, minor_units(customer["currency"]))


def require_currency(customer: RowMapping, field: str) -> str:
    """R-CUR-5: anything that invoices needs the customer's real currency."""
    if customer["currency"] is None:
        raise ConstraintViolation(field, "the customer has no currency; set it before invoicing")
    return str(customer["currency"])


def terms_from_settings(
    tx: CustomerTx,
    settings: Mapping[str, Any],
    quantity: Decimal,
    unit_amount: Decimal | None,
    effective_date: datetime,
) -> InvoiceTerms:
    """Resolve an increment's `invoice_settings` (R-INC-3, R-INV-2, R-INV-3)."""
    if unit_amount is None:
        raise InvalidField("per_unit_cost_basis", "is required when invoice_settings is given")
    net_terms, custom_due = settings.get("net_terms"), settings.get("custom_due_date")
    if (net_terms is None) == (custom_due is None):
        raise InvalidField(
            "invoice_settings.net_terms", "exactly one of net_terms or custom_due_date is required"
        )
    tz = tx.customer["timezone"]
    raw_date = settings.get("invoice_date")
    invoice_date = (
        resolve_instant(raw_date, tz, field="invoice_settings.invoice_date")
        if raw_date is not None
        else effective_date
    )
    due_date = _due_date(invoice_date, net_terms, custom_due, tz)
    return InvoiceTerms(
        quantity=quantity,
        unit_amount=unit_amount,
        auto_collection=settings["auto_collection"],
        invoice_date=invoice_date,
        due_date=due_date,
        memo=settings.get("memo"),
        item_id=settings.get("item_id"),
        mark_as_paid=bool(settings.get("mark_as_paid")),
        require_successful_payment=bool(settings.get("require_successful_payment")),
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


def status_for(customer: RowMapping, terms: InvoiceTerms) -> tuple[str, BlockStatus]:
    """R-INV-4: (invoice status, block status), first matching row wins."""
    if terms.mark_as_paid:
        return "paid", "active"
    if total_for(customer, terms.quantity, terms.unit_amount) == 0:
        return "paid", "active"
    if terms.require_successful_payment:
        return "issued", "pending_payment"
    return "issued", "active"


def create_invoice(
    tx: CustomerTx,
    invoice_id: str,
    terms: InvoiceTerms,
    *,
    block_id: str,
    ledger_currency: str,
    top_up_id: str | None = None,
) -> None:
    currency = require_currency(tx.customer, "invoice_settings")
    status, _ = status_for(tx.customer, terms)
    number = store.next_number(tx.conn)
    store.insert(tx.conn, {
        "customer_id": tx.customer_id, "id": invoice_id,
        "invoice_number": f"DD-{number:06d}", "status": status, "currency": currency,
        "ledger_currency": ledger_currency, "block_id": block_id, "top_up_id": top_up_id,
        "created_at": tx.now, "invoice_date": terms.invoice_date, "due_date": terms.due_date,
        "paid_at": tx.now if status == "paid" else None,
        "payment_received_at": terms.invoice_date if terms.mark_as_paid else None,
        "voided_at": None, "total": total_for(tx.customer, terms.quantity, terms.unit_amount),
        "quantity": terms.quantity, "unit_amount": format_scaled(terms.unit_amount),
        "memo": terms.memo,
        "auto_collection": terms.auto_collection,
        "item_id": terms.item_id or DEFAULT_ITEM_ID, "item_name": DEFAULT_ITEM_NAME,
        "line_item_id": tx.ctx.new_id(), "price_id": tx.ctx.new_id(),
    })  # fmt: skip


# --- reads ------------------------------------------------------------------------------


def get_invoice(ctx: ServiceContext, invoice_id: str) -> tuple[RowMapping, RowMapping]:
    """An invoice with its customer row."""
    with read_transaction(ctx.engine) as conn:
        row = store.get(conn, invoice_id)
        if row is None:
            raise ResourceNotFound("Invoice", invoice_id)
        return row, find(conn, CustomerRef(id=row["customer_id"]))


def invoices_for_blocks(
    ctx: ServiceContext, customer_id: str, block_ids: Sequence[str]
) -> list[RowMapping]:
    with read_transaction(ctx.engine) as conn:
        return store.for_blocks(conn, customer_id, block_ids)


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


def list_invoices(ctx: ServiceContext, query: InvoiceQuery) -> list[tuple[RowMapping, RowMapping]]:
    # Filters are checked before anything can short-cut to an empty page, so a bad date is
    # a 400 whatever else the query says.
    invoice_date = resolve_bounds(query.invoice_date, "UTC", field="invoice_date")
    due_date = _due_bounds(query.due_date)
    if query.subscription_id is not None:  # drawdown has no subscriptions: matches nothing
        return []
    with read_transaction(ctx.engine) as conn:
        customer_id = None
        if query.customer is not None:
            try:
                customer_id = find(conn, query.customer)["id"]
            except ResourceNotFound:
                return []
        rows = store.list_page(
            conn,
            customer_id=customer_id,
            statuses=query.statuses or DEFAULT_STATUSES,
            invoice_date=invoice_date,
            due_date=due_date,
            amount=query.amount,
            after=query.after,
            limit=query.limit,
        )
        customers = {r["customer_id"]: find(conn, CustomerRef(id=r["customer_id"])) for r in rows}
    return [(row, customers[row["customer_id"]]) for row in rows]


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


def _invoice_transaction(ctx: ServiceContext, invoice_id: str) -> Any:
    _row, customer = get_invoice(ctx, invoice_id)
    return customer_transaction(ctx, CustomerRef(id=customer["id"]))


def mark_paid(ctx: ServiceContext, invoice_id: str, fields: Mapping[str, Any]) -> RowMapping:
    """E26: issued/synced → paid; a pending_payment block becomes drawable (R-INV-5)."""
    with _invoice_transaction(ctx, invoice_id) as tx:
        # A malformed request is a validation error whatever state the invoice is in.
        received = resolve_instant(
            fields["payment_received_date"], tx.customer["timezone"], field="payment_received_date"
        )
        row = _locked_invoice(tx, invoice_id)
        if row["status"] not in ("issued", "synced"):
            raise ConstraintViolation(None, f"An invoice in status {row['status']} cannot be paid.")
        store.update_fields(tx.conn, invoice_id, {
            "status": "paid", "paid_at": tx.now, "payment_received_at": received,
            "payment_external_id": fields.get("external_id"), "payment_notes": fields.get("notes"),
        })  # fmt: skip
        _activate_block(tx, row)
        return _locked_invoice(tx, invoice_id)


def _activate_block(tx: CustomerTx, invoice: RowMapping) -> None:
    block = _pending_block(tx, invoice)
    if block is not None:
        run_command(
            tx,
            invoice["ledger_currency"],
            commands.Activate(block_id=block["id"]),
            block_ids=[block["id"]],
        )


def _pending_block(tx: CustomerTx, invoice: RowMapping) -> RowMapping | None:
    if invoice["block_id"] is None:
        return None
    block = ledger_store.find_block(tx.conn, invoice["block_id"])
    if block is None or block["status"] != "pending_payment":
        return None
    return block


def void_invoice(ctx: ServiceContext, invoice_id: str) -> RowMapping:
    """E27: issued → void; voids a still-pending block (R-INV-6), ends its top-up (R-TOP-8)."""
    with _invoice_transaction(ctx, invoice_id) as tx:
        void_in(tx, _locked_invoice(tx, invoice_id))
        return _locked_invoice(tx, invoice_id)


def void_in(tx: CustomerTx, row: RowMapping) -> None:
    if row["status"] != "issued":
        raise ConstraintViolation(None, f"An invoice in status {row['status']} cannot be voided.")
    store.update_fields(tx.conn, row["id"], {"status": "void", "voided_at": tx.now})
    block = _pending_block(tx, row)
    if block is not None and block["balance"] > 0:
        command = commands.Void(
            block_id=block["id"],
            amount=block["balance"],
            void_reason=None,
            description=None,
            metadata={},
        )
        run_command(tx, row["ledger_currency"], command, block_ids=[block["id"]])
    if row["top_up_id"] is not None:
        # Imported here because top-ups create invoices through this module.
        from drawdown.services.top_ups import deactivate

        deactivate(tx, row["top_up_id"], void_invoices=False)


def issue(ctx: ServiceContext, invoice_id: str) -> RowMapping:
    """E28: drawdown never creates drafts, so issuing is always a constraint violation."""
    row, _ = get_invoice(ctx, invoice_id)
    if row["status"] != "draft":
        raise ConstraintViolation(None, f"An invoice in status {row['status']} cannot be issued.")
    with _invoice_transaction(ctx, invoice_id) as tx:
        store.update_fields(tx.conn, invoice_id, {"status": "issued"})
        return _locked_invoice(tx, invoice_id)


def _locked_invoice(tx: CustomerTx, invoice_id: str) -> RowMapping:
    row = store.get(tx.conn, invoice_id)
    if row is None or row["customer_id"] != tx.customer_id:
        raise ResourceNotFound("Invoice", invoice_id)
    return row


def on_blocks_deleted(tx: CustomerTx, block_ids: Sequence[str]) -> None:
    """R-DEL-4: draft invoices of deleted blocks are deleted, issued ones voided, paid kept."""
    for row in store.for_blocks(tx.conn, tx.customer_id, block_ids):
        if row["status"] == "draft":
            store.update_fields(tx.conn, row["id"], {"deleted_at": tx.now})
        elif row["status"] == "issued":
            store.update_fields(tx.conn, row["id"], {"status": "void", "voided_at": tx.now})
