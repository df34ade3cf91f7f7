"""Credit endpoints E8–E13 and E20–E23: blocks, ledger listing, entry creation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import pagination, paths
from drawdown.api.deps import body_of, read, respond, service_context
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import boolean, one_of, range_filters
from drawdown.api.replies import NO_CONTENT, JsonReplier
from drawdown.api.schemas.ledger import (
    ENTRY_TEMPLATES,
    EntryTemplate,
    block_invoices_json,
    block_json,
    entry_json,
    page_json,
)
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant
from drawdown.ledger.model import Block
from drawdown.services.credits import balances, blocks, entries, reads
from drawdown.services.credits.views import BlockView, EntryView, PageEntry
from drawdown.services.entry_input import ENTRY_TYPES, entry_request
from drawdown.services.write_path import CustomerRef

router = APIRouter()

BY_ID = "/v1/customers/{customer_id}"
BY_EXTERNAL_ID = "/v1" + paths.BY_EXTERNAL_ID

ENTRY_CREATED: JsonReplier[EntryView] = JsonReplier(201, entry_json)
BLOCK: JsonReplier[BlockView] = JsonReplier(200, lambda view: block_json(view.block))


def _ref(customer_id: str | None, external_customer_id: str | None) -> CustomerRef:
    return CustomerRef(id=customer_id, external_id=external_customer_id)


# --- entries -----------------------------------------------------------------------------


@router.post(BY_ID + "/credits/ledger_entry", status_code=201)
async def create_entry(request: Request, customer_id: str) -> Response:
    """Create a ledger entry."""
    entry = entry_request(body_of(request))
    return await respond(request, entries.create_entry(_ref(customer_id, None), entry),
                         ENTRY_CREATED)  # fmt: skip


@router.post(BY_EXTERNAL_ID + "/credits/ledger_entry", status_code=201)
async def create_entry_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Create a ledger entry by external customer id."""
    entry = entry_request(body_of(request))
    work = entries.create_entry(_ref(None, external_customer_id), entry)
    return await respond(request, work, ENTRY_CREATED)


@router.get(BY_ID + "/credits/ledger")
async def list_ledger(request: Request, customer_id: str) -> Response:
    """List ledger entries."""
    return await _list_ledger(request, _ref(customer_id, None))


@router.get(BY_EXTERNAL_ID + "/credits/ledger")
async def list_ledger_by_external_id(request: Request, external_customer_id: str) -> Response:
    """List ledger entries by external customer id."""
    return await _list_ledger(request, _ref(None, external_customer_id))


async def _list_ledger(request: Request, ref: CustomerRef) -> Response:
    params = request.query_params
    created = range_filters(request, "created_at")
    filters: dict[str, Any] = {
        "currency": params.get("currency") or None,
        "entry_type": one_of(request, "entry_type", ENTRY_TYPES),
        "entry_status": one_of(request, "entry_status", ("committed", "pending")),
        "minimum_amount": params.get("minimum_amount"),
        "created_at": created,
        "customer": ref.describe(),
    }
    pager = pagination.Pager.of(request, "ledger", filters)
    query = reads.EntryQuery(
        currency=filters["currency"],
        entry_type=filters["entry_type"],
        entry_status=filters["entry_status"],
        minimum_amount=_minimum_amount(filters["minimum_amount"]),
        created_at=created,
        after=pager.after(pagination.cursor_instant, pagination.cursor_int, pagination.cursor_id),
        limit=pager.fetch,
    )
    page = await read(request, reads.entry_page, ref, query, ENTRY_TEMPLATES)
    return pager.respond(page, _entry_key, page_json)


def _entry_key(item: PageEntry[EntryTemplate]) -> list[Any]:
    head = item.head
    return [format_instant(head.created_at, fractions=True), head.seq, head.id]


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
    effective = range_filters(request, "effective_date")
    query = reads.BlockQuery(
        currency=request.query_params.get("currency"),
        include_all_blocks=boolean(request, "include_all_blocks", False),
        effective_date=effective,
    )
    as_of = request.query_params.get("as_of")
    filters = {"q": [query.currency, query.include_all_blocks, effective], "c": ref.describe(),
               "as_of": as_of}  # fmt: skip
    pager = pagination.Pager.of(request, "blocks", filters)
    if as_of is not None:  # drawdown extension: the blocks as they were then (a replay)
        found = await run_in_threadpool(
            balances.blocks_as_of, service_context(request), ref, query, as_of
        )  # a replay: CPU-heavy, kept off the event loop
    else:
        found = await read(request, reads.list_blocks, ref, query)
    after = pager.after(*_BLOCK_KEY_PARTS)
    if after is not None:  # blocks are ordered in Python (drawdown order), so is the cursor
        found = [b for b in found if _decoded_block_key(_block_key(b)) > after]
    return pager.respond(
        found[: pager.fetch], _block_key, lambda page: [block_json(b) for b in page]
    )


def _block_key(block: Block) -> list[Any]:
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


_BLOCK_KEY_PARTS = (
    pagination.cursor_int, pagination.cursor_text, pagination.cursor_decimal,
    pagination.cursor_text, pagination.cursor_int, pagination.cursor_id,
)  # fmt: skip


def _decoded_block_key(key: list[Any]) -> tuple[Any, ...]:
    decoded = pagination.decode_key(key, *_BLOCK_KEY_PARTS)
    assert decoded is not None
    return decoded


@router.get("/v1/credit_blocks/{block_id}")
async def fetch_block(request: Request, block_id: str) -> Response:
    """Fetch a credit block."""
    view = await read(request, reads.get_block, block_id)
    return ExactJSONResponse(block_json(view.block))


@router.get("/v1/credit_blocks/{block_id}/invoices")
async def block_invoices(request: Request, block_id: str) -> Response:
    """List the invoices that charged for a credit block."""
    view = await read(request, reads.get_block, block_id)
    return ExactJSONResponse(block_invoices_json(view))


@router.put("/v1/credit_blocks/{block_id}")
async def update_block(request: Request, block_id: str) -> Response:
    """Update a credit block's metadata."""
    raw = body_of(request)
    metadata = raw.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str | None) for v in metadata.values())
    ):
        raise invalid("metadata", "must be an object of string values")
    owner = await read(request, reads.owner_of_block, block_id)
    work = blocks.update_metadata(owner, block_id, metadata, sent="metadata" in raw)
    return await respond(request, work, BLOCK)


@router.delete("/v1/credit_blocks/{block_id}", status_code=204)
async def delete_block(request: Request, block_id: str) -> Response:
    """Delete a credit block and replay the ledger without it."""
    owner = await read(request, reads.owner_of_block, block_id)
    return await respond(request, blocks.delete_block(owner, block_id), NO_CONTENT)
