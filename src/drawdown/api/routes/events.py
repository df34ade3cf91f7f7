"""Orb's events API: ingestion (`POST /v1/ingest`, `client.events.ingest`), amendment and
deprecation of one event, search by event id, hourly volume (`client.events.*`).

A batch with any invalid event is refused whole: `400` request-validation with Orb's
`validation_failed` list beside the usual error fields, and nothing stored. Otherwise
`200 {"validation_failed": []}`, plus `debug: {"ingested": [...], "duplicate": [...]}` when
`debug=true`. With `backfill_id` the events belong to that backfill (routes/backfills.py).
The request's Idempotency-Key is not stored (every event carries its own key, which is
what makes a retry safe); amendment and deprecation are PUTs, idempotent by design.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination, queries
from drawdown.api.deps import body_of, read, respond, service_context
from drawdown.api.errors import error_body, invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.events import (
    amended_json,
    deprecated_json,
    ingested_json,
    search_json,
    volume_json,
)
from drawdown.ledger.dates import format_instant, resolve_instant
from drawdown.services.usage import events, ingest
from drawdown.services.write_path import CustomerRef

router = APIRouter()
AMENDED: JsonReplier[str] = JsonReplier(200, amended_json)
DEPRECATED: JsonReplier[str] = JsonReplier(200, deprecated_json)


@router.post("/v1/ingest")
async def ingest_events(request: Request) -> Response:
    """Ingest events."""
    ctx = service_context(request)
    debug = queries.boolean(request, "debug", False)
    backfill_id = request.query_params.get("backfill_id")
    batch = ingest.events_of(body_of(request), ctx.settings.usage_events_per_request_max)
    checked = await read(request, ingest.check, batch, backfill_id)
    if checked.failed:
        return _refused(checked.failed)
    stored = await ingest.write(checked).pending(ctx)
    result = ingest.outcome(checked, stored)
    if checked.backfill is None:  # a backfill's events wait for its close
        ctx.observer.emit("usage_accepted", count=len(result.ingested))
    return ExactJSONResponse(ingested_json(result.duplicate, result.ingested, debug=debug))


def _refused(failed: list[ingest.Failure]) -> Response:
    detail = f"{len(failed)} event(s) failed validation; nothing in this batch was ingested."
    body = error_body("validation", detail, [
        {"field": "events", "message": f"{f.idempotency_key}: {'; '.join(f.validation_errors)}"}
        for f in failed
    ])  # fmt: skip
    body["validation_failed"] = [
        {"idempotency_key": f.idempotency_key, "validation_errors": list(f.validation_errors)}
        for f in failed
    ]
    return ExactJSONResponse(body, status_code=400)


@router.put("/v1/events/{event_id:segment}")
async def amend_event(request: Request, event_id: str) -> Response:
    """Amend an event."""
    amended = events.parse_amendment(body_of(request))
    return await respond(request, events.amend(event_id, amended), AMENDED)


@router.put("/v1/events/{event_id:segment}/deprecate")
async def deprecate_event(request: Request, event_id: str) -> Response:
    """Deprecate an event."""
    owner = await read(request, events.owner_of, event_id, _customer_query(request))
    return await respond(request, events.deprecate(owner, event_id), DEPRECATED)


def _customer_query(request: Request) -> CustomerRef | None:
    """drawdown extension: which customer's event, when several share its id."""
    return queries.one_customer(request, "customer_id")


@router.post("/v1/events/search")
async def search_events(request: Request) -> Response:
    """Search events."""
    query = events.parse_search(body_of(request))
    found = await read(request, events.search, query.event_ids, query.start, query.end)
    return ExactJSONResponse(search_json(found))


@router.get("/v1/events/volume")
async def event_volume(request: Request) -> Response:
    """List event volume."""
    params = request.query_params
    raw_start, raw_end = params.get("timeframe_start"), params.get("timeframe_end")
    if raw_start is None:
        raise invalid("timeframe_start", "is required")
    start = resolve_instant(raw_start, "UTC", field="timeframe_start")
    end = None if raw_end is None else resolve_instant(raw_end, "UTC", field="timeframe_end")
    pager = pagination.Pager.of(request, "event_volume", {"s": raw_start, "e": raw_end})
    after = pager.after(pagination.cursor_instant)
    hours = await read(request, events.volume, start, end, after and after[0], pager.fetch)
    return pager.respond(hours, lambda v: [format_instant(v.hour, fractions=True)],
                         lambda page: [volume_json(v) for v in page])  # fmt: skip
