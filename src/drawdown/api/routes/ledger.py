"""Credit endpoints E8–E13 and E20–E22: blocks, ledger listing, entry creation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import pagination, paths
from drawdown.api.deps import json_object, service_context
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import boolean, integer, one_of, range_filters
from drawdown.api.schemas.invoices import created_invoices_for
from drawdown.api.schemas.ledger import block_json, entry_json
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant
from drawdown.services import block_deletion
from drawdown.services import ledger as service
from drawdown.services.customers import CustomerRef
from drawdown.services.entry_input import ENTRY_TYPES, entry_fields

router = APIRouter()

BY_ID = "/customers/{customer_id}"
BY_EXTERNAL_ID = paths.BY_EXTERNAL_ID


def _ref(customer_id: str | None, external_customer_id: str | None) -> CustomerRef:
    return CustomerRef(id=customer_id, external_id=external_customer_id)


# --- entries -----------------------------------------------------------------------------


@router.post(BY_ID + "/credits/ledger_entry", status_code=201)
async def create_entry(request: Request, customer_id: str) -> Response:
    """Create a ledger entry."""
    return await _create_entry(request, _ref(customer_id, None))


@router.post(BY_EXTERNAL_ID + "/credits/ledger_entry", status_code=201)
async def create_entry_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Create a ledger entry by external customer id."""
    return await _create_entry(request, _ref(None, external_customer_id))


async def _create_entry(request: Request, ref: CustomerRef) -> Response:
    fields = entry_fields(await json_object(request))
    ctx = service_context(request)
    view = await run_in_threadpool(service.create_entry, ctx, ref, fields)
    body = await run_in_threadpool(_entry_body, ctx, view)
    return ExactJSONResponse(body, status_code=201)


def _entry_body(ctx: Any, view: service.EntryView) -> dict[str, Any]:
    invoices = created_invoices_for(ctx, [view])
    return entry_json(
        view.entry, view.block, view.customer, view.status, invoices.get(view.entry.id)
    )


@router.get(BY_ID + "/credits/ledger")
async def list_ledger(request: Request, customer_id: str) -> Response:
    """List ledger entries."""
    return await _list_ledger(request, _ref(customer_id, None))


@router.get(BY_EXTERNAL_ID + "/credits/ledger")
async def list_ledger_by_external_id(request: Request, external_customer_id: str) -> Response:
    """List ledger entries by external customer id."""
    return await _list_ledger(request, _ref(None, external_customer_id))


async def _list_ledger(request: Request, ref: CustomerRef) -> Response:
    ctx = service_context(request)
    params = request.query_params
    created = range_filters(request, "created_at")
    filters: dict[str, Any] = {
        "currency": params.get("currency") or None,
        "entry_type": one_of(request, "entry_type", ENTRY_TYPES),
        "entry_status": one_of(request, "entry_status", ("committed", "pending")),
        "minimum_amount": params.get("minimum_amount"),
        "created_at": created,
    }
    page_req = pagination.page_request(
        ctx.settings,
        "ledger",
        integer(request, "limit"),
        params.get("cursor"),
        {**filters, "customer": ref.describe()},
    )
    query = service.EntryQuery(
        currency=filters["currency"],
        entry_type=filters["entry_type"],
        entry_status=filters["entry_status"],
        minimum_amount=_minimum_amount(filters["minimum_amount"]),
        created_at=created,
        after=pagination.decode_key(page_req.after, pagination.cursor_instant, int, str),
        limit=page_req.limit + 1,
    )
    views = await run_in_threadpool(service.list_entries, ctx, ref, query)
    shown, meta = pagination.page(
        views,
        page_req,
        "ledger",
        {**filters, "customer": ref.describe()},
        lambda v: [format_instant(v.entry.created_at, fractions=True), v.entry.seq, v.entry.id],
    )
    body = await run_in_threadpool(_entries_body, ctx, shown)
    return ExactJSONResponse({"data": body, "pagination_metadata": meta})


def _entries_body(ctx: Any, views: list[service.EntryView]) -> list[dict[str, Any]]:
    invoices = created_invoices_for(ctx, views)
    return [
        entry_json(v.entry, v.block, v.customer, v.status, invoices.get(v.entry.id)) for v in views
    ]


def _minimum_amount(raw: str | None) -> Decimal | None:
    return None if raw is None else to_decimal(raw, field="minimum_amount")


# --- blocks ------------------------------------------------------------------------------


@router.get(BY_ID + "/credits")
async def list_blocks(request: Request, customer_id: str) -> Response:
    """List a customer's credit blocks (credit balance)."""
    return await _list_blocks(request, _ref(customer_id, None))


@router.get(BY_EXTERNAL_ID + "/credits")
async def list_blocks_by_external_id(request: Request, external_customer_id: str) -> Response:
    """List a customer's credit blocks by external customer id."""
    return await _list_blocks(request, _ref(None, external_customer_id))


async def _list_blocks(request: Request, ref: CustomerRef) -> Response:
    ctx = service_context(request)
    effective = range_filters(request, "effective_date")
    query = service.BlockQuery(
        currency=request.query_params.get("currency"),
        include_all_blocks=boolean(request, "include_all_blocks", False),
        effective_date=effective,
    )
    filters = {"q": [query.currency, query.include_all_blocks, effective], "c": ref.describe()}
    page_req = pagination.page_request(
        ctx.settings,
        "blocks",
        integer(request, "limit"),
        request.query_params.get("cursor"),
        filters,
    )
    blocks = await run_in_threadpool(service.list_blocks, ctx, ref, query)
    if page_req.after is not None:
        after = _decoded_block_key(page_req.after)
        blocks = [b for b in blocks if _decoded_block_key(_block_key(b)) > after]
    shown, meta = pagination.page(
        blocks[: page_req.limit + 1], page_req, "blocks", filters, _block_key
    )
    return ExactJSONResponse({"data": [block_json(b) for b in shown], "pagination_metadata": meta})


def _block_key(block: Any) -> list[Any]:
    """The drawdown-order key (R-DED-2 + tie breaks) in JSON form, for keyset cursors."""
    expiry = block.expiry_date
    return [
        0 if expiry is not None else 1,
        format_instant(expiry, fractions=True) if expiry is not None else "",
        str(block.per_unit_cost_basis or 0),
        format_instant(block.effective_date, fractions=True),
        block.created_seq,
        block.id,
    ]


def _decoded_block_key(key: list[Any]) -> tuple[Any, ...]:
    decoded = pagination.decode_key(key, int, str, pagination.cursor_decimal, str, int, str)
    assert decoded is not None
    return decoded


@router.get("/credit_blocks/{block_id}")
async def fetch_block(request: Request, block_id: str) -> Response:
    """Fetch a credit block."""
    block = await run_in_threadpool(service.get_block, service_context(request), block_id)
    return ExactJSONResponse(block_json(block))


@router.put("/credit_blocks/{block_id}")
async def update_block(request: Request, block_id: str) -> Response:
    """Update a credit block's metadata."""
    raw = await json_object(request)
    metadata = raw.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str | None) for v in metadata.values())
    ):
        raise invalid("metadata", "must be an object of string values")
    fields = {"metadata": metadata} if "metadata" in raw else {}
    block = await run_in_threadpool(
        service.update_block_metadata, service_context(request), block_id, fields
    )
    return ExactJSONResponse(block_json(block))


@router.delete("/credit_blocks/{block_id}", status_code=204)
async def delete_block(request: Request, block_id: str) -> Response:
    """Delete a credit block and replay the ledger without it."""
    await run_in_threadpool(block_deletion.delete_block, service_context(request), block_id)
    return Response(status_code=204)
