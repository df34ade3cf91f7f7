"""Credit notes on credit-purchase invoices (Orb `credit_notes.create|list|fetch`; R-CRN-1..4).

A credit note credits money on an invoice: on a `paid` invoice it is a `refund` (the money
goes to the customer's cash balance, a `credit_note_applied` transaction, as in Orb), on an
`issued` one an `adjustment` (it lowers the invoice's amount due). Either way the credits the
money bought are taken back: `void` entries (`void_reason: "refund"`) on the purchase's
blocks, written through `run_command` so the command log replays them, never more than is
left of the purchase (`ledger/refunds.py`). Everything happens in the invoice's customer's
write transaction, so a refused credit note writes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from drawdown.ledger import commands
from drawdown.ledger.amounts import round_money
from drawdown.ledger.dates import add_days_local, resolve_bounds, resolve_instant
from drawdown.ledger.model import Block
from drawdown.ledger.refunds import refund_voids, refunded_credits
from drawdown.records import CreditNote, CreditNoteLine, Customer, Invoice
from drawdown.services.billing import cash_balance
from drawdown.services.billing.money import in_minor_units
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import minor_units
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
from drawdown.store import credit_notes as store
from drawdown.store import invoices as invoice_store
from drawdown.store.tx import Tx

NOTE_TYPES = {"paid": "refund", "issued": "adjustment"}  # Orb: only these can be credited


@dataclass(frozen=True)
class LineRequest:
    invoice_line_item_id: str
    amount: Decimal  # > 0, checked at the edge
    start_date: str | None = None
    end_date: str | None = None


@dataclass(frozen=True)
class CreditNoteRequest:
    line_items: tuple[LineRequest, ...]  # at least one, checked at the edge
    reason: str
    memo: str | None = None
    start_date: str | None = None
    end_date: str | None = None


@dataclass(frozen=True)
class CreditNoteView:
    """A credit note with its customer: everything its wire form needs."""

    note: CreditNote
    customer: Customer


# --- create -------------------------------------------------------------------------------


def owner_of(ctx: ServiceContext, request: CreditNoteRequest) -> CustomerRef:
    """The customer whose invoice the first line item belongs to (never changes), or 404."""
    with ctx.db.read() as tx:
        return CustomerRef(id=_invoice_of_line(tx, request, 0).customer_id)


def create_credit_note(owner: CustomerRef, request: CreditNoteRequest) -> Work[CreditNoteView]:
    def create(write: CustomerWrite) -> CreditNoteView:
        invoice = _invoice(write, request)
        periods = _periods(write, invoice, request)
        note_type = _note_type(invoice)
        amount = _amount(invoice, request)
        number = invoice_store.next_number(write.tx, "credit_note_number")
        note = CreditNote(
            customer_id=write.customer_id, id=write.ctx.new_id(),
            credit_note_number=f"DD-CN-{number:06d}", invoice_id=invoice.id, type=note_type,
            reason=request.reason, memo=request.memo, currency=invoice.currency, total=amount,
            created_at=write.now, voided_at=None,
        )  # fmt: skip
        credits = refunded_credits(invoice.quantity, invoice.total, invoice.credited, amount)
        taken = _take_back(write, invoice, note, credits)
        store.insert(write.tx, _with_line(write, note, invoice, taken, periods[0]))
        credited = invoice.credited + amount
        invoice_store.update_fields(write.tx, write.customer_id, invoice.id, {"credited": credited})
        if note_type == "refund":
            cash_balance.record(write, cash_balance.Move(
                "increment", amount, cash_balance.CREDIT_NOTE_APPLIED,
                invoice_id=invoice.id, credit_note_id=note.id,
            ))  # fmt: skip
        found = store.get(write.tx, note.id)
        assert found is not None
        return CreditNoteView(found, write.customer)

    return customer_work(owner, create)


def _invoice_of_line(tx: Tx, request: CreditNoteRequest, index: int) -> Invoice:
    line_item_id = request.line_items[index].invoice_line_item_id
    invoice = invoice_store.by_line_item(tx, line_item_id)
    if invoice is None:
        raise ResourceNotFound("InvoiceLineItem", line_item_id)
    return invoice


def _invoice(write: CustomerWrite, request: CreditNoteRequest) -> Invoice:
    """The one invoice the request's line items name (a credit-purchase invoice has one
    line item, so a second line can only repeat it or name another invoice's)."""
    invoice = _invoice_of_line(write.tx, request, 0)
    if invoice.customer_id != write.customer_id:  # moved under us: it was deleted meanwhile
        raise ResourceNotFound("InvoiceLineItem", request.line_items[0].invoice_line_item_id)
    for index in range(1, len(request.line_items)):
        other = _invoice_of_line(write.tx, request, index)
        field = f"line_items.{index}.invoice_line_item_id"
        if other.id == invoice.id:
            raise InvalidField(field, "names a line item that line_items.0 already credits")
        raise InvalidField(field, "must be a line item of the same invoice as line_items.0")
    return invoice


def _note_type(invoice: Invoice) -> str:
    note_type = NOTE_TYPES.get(invoice.status)
    if note_type is None:
        raise ConstraintViolation(
            "line_items.0.invoice_line_item_id",
            f"Only issued or paid invoices can be credited; invoice {invoice.invoice_number} "
            f"is {invoice.status}.",
        )
    return note_type


def _amount(invoice: Invoice, request: CreditNoteRequest) -> Decimal:
    """The money credited: in the invoice currency's units, within what is left to credit."""
    field = "line_items.0.amount"
    amount = in_minor_units(request.line_items[0].amount, invoice.currency, field=field)
    left = invoice.total - invoice.credited
    if amount > left:
        digits = max(2, minor_units(invoice.currency))
        left_text, total_text = round_money(left, digits), round_money(invoice.total, digits)
        raise ConstraintViolation(
            field, f"{field} {amount} exceeds what invoice {invoice.invoice_number} can still "
            f"be credited: {left_text} {invoice.currency} of {total_text}.",
        )  # fmt: skip
    return amount


def _take_back(
    write: CustomerWrite, invoice: Invoice, note: CreditNote, credits: Decimal
) -> Decimal:
    """Void up to `credits` from the purchase's blocks; the credits actually taken back."""
    if credits == 0 or invoice.block_id is None:
        return Decimal(0)
    state = write.state(invoice.ledger_currency, [invoice.block_id])
    blocks = _purchase_blocks(state.blocks.values(), invoice)
    taken = Decimal(0)
    for block_id, amount in refund_voids(blocks, credits):
        void = commands.Void(
            block_id=block_id, amount=amount, void_reason="refund",
            description=f"Credit note {note.credit_note_number}",
            metadata={"credit_note_id": note.id},
        )  # fmt: skip
        run_command(write, invoice.ledger_currency, void, block_ids=[block_id])
        taken += amount
    return taken


def _purchase_blocks(blocks: Iterable[Block], invoice: Invoice) -> list[Block]:
    """The block the invoice bought first, then the blocks expiration changes moved its
    credits to (they keep its invoice), oldest first."""
    bought = [b for b in blocks if b.invoice_id == invoice.id]
    return sorted(bought, key=lambda b: (b.id != invoice.block_id, b.created_seq, b.id))


def _periods(
    write: CustomerWrite, invoice: Invoice, request: CreditNoteRequest
) -> list[tuple[datetime, datetime]]:
    """Each line's service period: its own dates, else the note's, else the invoice line's
    (Orb: one mode per request; dates are inclusive days in the customer's timezone)."""
    own = [(line.start_date, line.end_date) for line in request.line_items]
    given = [any(pair) for pair in own]
    if any(given) and (request.start_date is not None or request.end_date is not None):
        raise InvalidField("start_date", "cannot be combined with line items' own periods")
    if any(given) and not all(given):
        index = given.index(False)
        raise InvalidField(f"line_items.{index}.start_date", "every line item needs a period")
    if any(given):
        return [
            _period(write, start, end, f"line_items.{i}.") for i, (start, end) in enumerate(own)
        ]
    if request.start_date is None and request.end_date is None:
        return [(invoice.invoice_date, invoice.invoice_date)] * len(request.line_items)
    return [_period(write, request.start_date, request.end_date, "")] * len(request.line_items)


def _period(
    write: CustomerWrite, start: str | None, end: str | None, prefix: str
) -> tuple[datetime, datetime]:
    if start is None or end is None:
        missing = "start_date" if start is None else "end_date"
        raise InvalidField(prefix + missing, "is required with the other end of the period")
    tz = write.customer.timezone
    start_at = resolve_instant(start, tz, field=prefix + "start_date")
    end_at = resolve_instant(end, tz, field=prefix + "end_date")
    if len(end.strip()) == len("YYYY-MM-DD"):  # an inclusive day: up to the next midnight
        end_at = _next_day(end_at, tz, prefix + "end_date")
    if end_at <= start_at:
        raise InvalidField(prefix + "end_date", "must not be before start_date")
    return start_at, end_at


def _next_day(instant: datetime, tz: str, field: str) -> datetime:
    try:
        return add_days_local(instant, 1, tz)
    except OverflowError as exc:  # 9999-12-31 has no next day
        raise InvalidField(field, "is out of range") from exc


def _with_line(
    write: CustomerWrite,
    note: CreditNote,
    invoice: Invoice,
    taken: Decimal,
    period: tuple[datetime, datetime],
) -> CreditNote:
    """The note with its one line: the invoice's line item, the money, the credits taken."""
    line = CreditNoteLine(
        id=write.ctx.new_id(), invoice_line_item_id=invoice.line_item_id, item_id=invoice.item_id,
        name=invoice.item_name, amount=note.total, quantity=taken,
        start_at=period[0], end_at=period[1],
    )  # fmt: skip
    return dataclasses.replace(note, line_items=(line,))


# --- reads --------------------------------------------------------------------------------


def get_credit_note(ctx: ServiceContext, credit_note_id: str) -> CreditNoteView:
    with ctx.db.read() as tx:
        note = store.get(tx, credit_note_id)
        if note is None:
            raise ResourceNotFound("CreditNote", credit_note_id)
        return CreditNoteView(note, find_customer(tx, CustomerRef(id=note.customer_id)))


@dataclass(frozen=True)
class CreditNoteQuery:
    customer: CustomerRef | None
    created_at: Sequence[tuple[str, str]]
    after: tuple[datetime, str] | None
    limit: int


def list_credit_notes(ctx: ServiceContext, query: CreditNoteQuery) -> list[CreditNoteView]:
    """Newest first; filters on `created_at` (UTC dates) and, optionally, one customer."""
    created_at = resolve_bounds(query.created_at, "UTC", field="created_at")
    with ctx.db.read() as tx:
        customer = None if query.customer is None else live_customer(tx, query.customer)
        if query.customer is not None and customer is None:
            return []  # a customer that does not exist has no credit notes
        notes = store.list_page(
            tx, customer_id=None if customer is None else customer.id, created_at=created_at,
            after=query.after, limit=query.limit,
        )  # fmt: skip
        customers = owners(tx, (note.customer_id for note in notes))
    return [CreditNoteView(note, customers[note.customer_id]) for note in notes]
