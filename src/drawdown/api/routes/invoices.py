"""Invoice endpoints E23–E28 and top-up endpoints E14–E19."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import pagination, paths
from drawdown.api.deps import json_object, service_context, validated
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import integer, range_filters
from drawdown.api.schemas.invoices import (
    MarkPaidRequest,
    TopUpRequest,
    invoice_json,
    invoice_summary_json,
    top_up_json,
)
from drawdown.api.schemas.ledger import block_json
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant
from drawdown.services import invoices as service
from drawdown.services import ledger as ledger_service
from drawdown.services import top_ups
from drawdown.services.customers import CustomerRef

router = APIRouter()
INVOICE_STATUSES = ("draft", "issued", "paid", "synced", "void")


@router.get("/invoices")
async def list_invoices(request: Request) -> Response:
    """List invoices."""
    ctx = service_context(request)
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
    customer = _customer_filter(params.get("customer_id"), params.get("external_customer_id"))
    filters: dict[str, Any] = {"s": statuses, "d": due, "i": range_filters(request, "invoice_date"),
               "a": [(op, str(v)) for op, v in amount], "c": customer and customer.describe(),
               "sub": params.get("subscription_id")}  # fmt: skip
    page_req = pagination.page_request(
        ctx.settings, "invoices", integer(request, "limit"), params.get("cursor"), filters
    )
    query = service.InvoiceQuery(
        customer=customer,
        statuses=statuses,
        invoice_date=filters["i"],
        due_date=due,
        amount=amount,
        after=pagination.decode_key(
            page_req.after, pagination.cursor_instant, pagination.cursor_instant, str
        ),
        limit=page_req.limit + 1,
        subscription_id=params.get("subscription_id"),
    )
    rows = await run_in_threadpool(service.list_invoices, ctx, query)
    shown, meta = pagination.page(
        rows,
        page_req,
        "invoices",
        filters,
        lambda pair: [
            format_instant(pair[0]["invoice_date"], fractions=True),
            format_instant(pair[0]["created_at"], fractions=True),
            pair[0]["id"],
        ],
    )
    return ExactJSONResponse(
        {"data": [invoice_json(r, c) for r, c in shown], "pagination_metadata": meta}
    )


def _customer_filter(customer_id: str | None, external_id: str | None) -> CustomerRef | None:
    if customer_id is not None:
        return CustomerRef(id=customer_id)
    if external_id is not None:
        return CustomerRef(external_id=external_id)
    return None


@router.get("/invoices/{invoice_id}")
async def fetch_invoice(request: Request, invoice_id: str) -> Response:
    """Fetch an invoice."""
    row, customer = await run_in_threadpool(
        service.get_invoice, service_context(request), invoice_id
    )
    return ExactJSONResponse(invoice_json(row, customer))


@router.post("/invoices/{invoice_id}/mark_paid")
async def mark_paid(request: Request, invoice_id: str) -> Response:
    """Mark an invoice as paid."""
    body = validated(MarkPaidRequest, await json_object(request))
    ctx = service_context(request)
    await run_in_threadpool(service.mark_paid, ctx, invoice_id, body.model_dump())
    return await fetch_invoice(request, invoice_id)


@router.post("/invoices/{invoice_id}/void")
async def void_invoice(request: Request, invoice_id: str) -> Response:
    """Void an invoice."""
    await run_in_threadpool(service.void_invoice, service_context(request), invoice_id)
    return await fetch_invoice(request, invoice_id)


@router.post("/invoices/{invoice_id}/issue")
async def issue_invoice(request: Request, invoice_id: str) -> Response:
    """Issue a draft invoice."""
    await json_object(request)
    await run_in_threadpool(service.issue, service_context(request), invoice_id)
    return await fetch_invoice(request, invoice_id)


@router.get("/credit_blocks/{block_id}/invoices")
async def block_invoices(request: Request, block_id: str) -> Response:
    """List the invoices that charged for a credit block."""
    ctx = service_context(request)
    block = await run_in_threadpool(ledger_service.get_block, ctx, block_id)
    customer = await run_in_threadpool(ledger_service.customer_of_block, ctx, block_id)
    rows = await run_in_threadpool(service.invoices_for_blocks, ctx, customer["id"], [block.id])
    return ExactJSONResponse(
        {"block": block_json(block), "invoices": [invoice_summary_json(r, customer) for r in rows]}
    )


# --- top-ups ------------------------------------------------------------------------------

BY_ID = "/customers/{customer_id}/credits/top_ups"
BY_EXTERNAL_ID = paths.BY_EXTERNAL_ID + "/credits/top_ups"


@router.post(BY_ID, status_code=201)
async def create_top_up(request: Request, customer_id: str) -> Response:
    """Create a top-up."""
    return await _create_top_up(request, CustomerRef(id=customer_id))


@router.post(BY_EXTERNAL_ID, status_code=201)
async def create_top_up_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Create a top-up by external customer id."""
    return await _create_top_up(request, CustomerRef(external_id=external_customer_id))


async def _create_top_up(request: Request, ref: CustomerRef) -> Response:
    body = validated(TopUpRequest, await json_object(request))
    fields = body.model_dump()
    row = await run_in_threadpool(top_ups.create_top_up, service_context(request), ref, fields)
    return ExactJSONResponse(top_up_json(row), status_code=201)


@router.get(BY_ID)
async def list_top_ups(request: Request, customer_id: str) -> Response:
    """List active top-ups."""
    return await _list_top_ups(request, CustomerRef(id=customer_id))


@router.get(BY_EXTERNAL_ID)
async def list_top_ups_by_external_id(request: Request, external_customer_id: str) -> Response:
    """List active top-ups by external customer id."""
    return await _list_top_ups(request, CustomerRef(external_id=external_customer_id))


async def _list_top_ups(request: Request, ref: CustomerRef) -> Response:
    ctx = service_context(request)
    filters = {"c": ref.describe()}
    page_req = pagination.page_request(
        ctx.settings,
        "top_ups",
        integer(request, "limit"),
        request.query_params.get("cursor"),
        filters,
    )
    after = pagination.decode_key(page_req.after, pagination.cursor_instant, str)
    rows = await run_in_threadpool(top_ups.list_top_ups, ctx, ref, after, page_req.limit + 1)
    shown, meta = pagination.page(
        rows,
        page_req,
        "top_ups",
        filters,
        pagination.created_key,
    )
    return ExactJSONResponse({"data": [top_up_json(r) for r in shown], "pagination_metadata": meta})


@router.delete(BY_ID + "/{top_up_id}", status_code=204)
async def delete_top_up(request: Request, customer_id: str, top_up_id: str) -> Response:
    """Delete (deactivate) a top-up."""
    ctx = service_context(request)
    await run_in_threadpool(top_ups.delete_top_up, ctx, CustomerRef(id=customer_id), top_up_id)
    return Response(status_code=204)


@router.delete(BY_EXTERNAL_ID + "/{top_up_id}", status_code=204)
async def delete_top_up_by_external_id(
    request: Request, external_customer_id: str, top_up_id: str
) -> Response:
    """Delete (deactivate) a top-up by external customer id."""
    ctx = service_context(request)
    ref = CustomerRef(external_id=external_customer_id)
    await run_in_threadpool(top_ups.delete_top_up, ctx, ref, top_up_id)
    return Response(status_code=204)
