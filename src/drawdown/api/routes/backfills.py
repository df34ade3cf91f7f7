"""Orb's event backfills (`client.events.backfills`): create, list, fetch, close, revert.

Closing and reverting run every customer's part first (each its own transaction, a no-op
once done) and answer with the last step, which marks the backfill `reflected` /
`reverted`; that step is the idempotent, stored reply of the POST (§1.9 of docs/rules.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import pagination, queries
from drawdown.api.deps import body_of, read, respond, service_context
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.events import backfill_json
from drawdown.records import Backfill
from drawdown.services.usage import backfill_changes, backfills

router = APIRouter()
BACKFILLS = "/v1/events/backfills"
CREATED: JsonReplier[Backfill] = JsonReplier(201, backfill_json)
BACKFILL: JsonReplier[Backfill] = JsonReplier(200, backfill_json)


@router.post(BACKFILLS, status_code=201)
async def create_backfill(request: Request) -> Response:
    """Create a backfill."""
    new = backfills.parse(body_of(request))
    work = backfills.create(new, service_context(request).new_id())
    return await respond(request, work, CREATED)


@router.get(BACKFILLS)
async def list_backfills(request: Request) -> Response:
    """List backfills."""
    customer_id = request.query_params.get("customer_id")
    status = queries.one_of(request, "status", backfills.STATUSES)
    pager = pagination.Pager.of(request, "backfills", {"c": customer_id, "s": status})
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    found = await read(request, backfills.list_backfills, customer_id, status, after, pager.fetch)
    return pager.respond(
        found, pagination.created_key, lambda page: [backfill_json(b) for b in page]
    )


@router.get(BACKFILLS + "/{backfill_id}")
async def fetch_backfill(request: Request, backfill_id: str) -> Response:
    """Fetch a backfill."""
    return ExactJSONResponse(
        backfill_json(await read(request, backfills.get_backfill, backfill_id))
    )


@router.post(BACKFILLS + "/{backfill_id}/close")
async def close_backfill(request: Request, backfill_id: str) -> Response:
    """Close a backfill."""
    await run_in_threadpool(backfill_changes.prepare_close, service_context(request), backfill_id)
    return await respond(request, backfill_changes.end_close(backfill_id), BACKFILL)


@router.post(BACKFILLS + "/{backfill_id}/revert")
async def revert_backfill(request: Request, backfill_id: str) -> Response:
    """Revert a backfill."""
    await run_in_threadpool(backfill_changes.prepare_revert, service_context(request), backfill_id)
    return await respond(request, backfill_changes.end_revert(backfill_id), BACKFILL)
