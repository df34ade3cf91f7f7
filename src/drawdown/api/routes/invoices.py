"""Invoice endpoints E24–E28 (docs/rules.md §2.6) and `invoices.update`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination
from drawdown.api.deps import body_of, read, respond, validated
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import customer_filter, range_filters
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.invoices import InvoiceUpdateRequest, MarkPaidRequest, invoice_json
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant
from drawdown.services.billing import invoices as service
from drawdown.services.billing.invoices import InvoiceView
from drawdown.services.billing.invoicing import DraftChanges
from drawdown.services.write_path import CustomerRef

router = APIRouter()
INVOICE_STATUSES = ("draft", "issued", "paid", "synced", "void")


INVOICE: JsonReplier[InvoiceView] = JsonReplier(200, lambda v: invoice_json(v.invoice, v.customer))


@router.get("/v1/invoices")
async def list_invoices(request: Request) -> Response:
    """List invoices."""
    params = request.query_params
    statuses = params.getlist("status[]") or params.getlist("status")
    for status in statuses:
        if status not in INVOICE_STATUSES:
            raise invalid("status[]", f"must be one of {', '.join(INVOICE_STATUSES)}")
    due = range_filters(request, "due_date")
    if params.get("due_date") is not None:
        due.append(("eq", params["due_date"]))
    amount = [
        (op, to_decimal(v, field=f"amount[{op}]")) for op, v in range_filters(request, "amount")
    ]
    if params.get("amount") is not None:
        amount.append(("eq", to_decimal(params["amount"], field="amount")))
    customer = customer_filter(request)
    filters: dict[str, Any] = {"s": statuses, "d": due, "i": range_filters(request, "invoice_date"),
               "a": [(op, str(v)) for op, v in amount], "c": customer and customer.describe(),
               "sub": params.get("subscription_id")}  # fmt: skip
    pager = pagination.Pager.of(request, "invoices", filters)
    query = service.InvoiceQuery(
        customer=customer,
        statuses=statuses,
        invoice_date=filters["i"],
        due_date=due,
        amount=amount,
        after=pager.after(
            pagination.cursor_instant, pagination.cursor_instant, pagination.cursor_id
        ),
        limit=pager.fetch,
        subscription_id=params.get("subscription_id"),
    )
    views = await read(request, service.list_invoices, query)
    return pager.respond(
        views, _invoice_key, lambda page: [invoice_json(v.invoice, v.customer) for v in page]
    )


def _invoice_key(view: InvoiceView) -> list[Any]:
    invoice = view.invoice
    return [format_instant(invoice.invoice_date, fractions=True),
            format_instant(invoice.created_at, fractions=True), invoice.id]  # fmt: skip


@router.get("/v1/invoices/{invoice_id}")
async def fetch_invoice(request: Request, invoice_id: str) -> Response:
    """Fetch an invoice."""
    view = await read(request, service.get_invoice, invoice_id)
    return ExactJSONResponse(invoice_json(view.invoice, view.customer))


@router.put("/v1/invoices/{invoice_id}")
async def update_invoice(request: Request, invoice_id: str) -> Response:
    """Update an invoice (metadata; dates, terms and auto-collection of drafts)."""
    body = validated(InvoiceUpdateRequest, body_of(request))
    if body.due_date is not None and body.net_terms is not None:
        raise invalid("due_date", "cannot be set together with net_terms")
    drafts = DraftChanges(
        invoice_date=body.invoice_date,
        due_date=body.due_date,
        net_terms=body.net_terms,
        auto_collection=body.auto_collection,
    )
    update = service.InvoiceUpdate(
        drafts, body.metadata, metadata_sent="metadata" in body.model_fields_set
    )
    owner = await _owner(request, invoice_id)
    return await respond(request, service.update_invoice(owner, invoice_id, update), INVOICE)


@router.post("/v1/invoices/{invoice_id}/mark_paid")
async def mark_paid(request: Request, invoice_id: str) -> Response:
    """Mark an invoice as paid."""
    body = validated(MarkPaidRequest, body_of(request))
    payment = service.Payment(body.payment_received_date, body.external_id, body.notes)
    owner = await _owner(request, invoice_id)
    return await respond(request, service.mark_paid(owner, invoice_id, payment), INVOICE)


@router.post("/v1/invoices/{invoice_id}/void")
async def void_invoice(request: Request, invoice_id: str) -> Response:
    """Void an invoice."""
    owner = await _owner(request, invoice_id)
    return await respond(request, service.void_invoice(owner, invoice_id), INVOICE)


@router.post("/v1/invoices/{invoice_id}/issue")
async def issue_invoice(request: Request, invoice_id: str) -> Response:
    """Issue a draft invoice."""
    owner = await _owner(request, invoice_id)
    return await respond(request, service.issue(owner, invoice_id), INVOICE)


async def _owner(request: Request, invoice_id: str) -> CustomerRef:
    return await read(request, service.owner_of, invoice_id)
