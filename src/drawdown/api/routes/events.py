"""Event ingestion, wire-compatible with Orb's `POST /v1/ingest` (`client.events.ingest`).

A batch with any invalid event is refused whole: `400` request-validation with Orb's
`validation_failed` list beside the usual error fields, and nothing stored. Otherwise
`200 {"validation_failed": []}`, plus `debug: {"ingested": [...], "duplicate": [...]}` when
`debug=true`. `backfill_id` is accepted and ignored; the request's Idempotency-Key is not
stored (every event carries its own key, which is what makes a retry safe).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import queries
from drawdown.api.deps import body_of, read, service_context
from drawdown.api.errors import error_body
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.services.usage import ingest

router = APIRouter()


@router.post("/v1/ingest")
async def ingest_events(request: Request) -> Response:
    """Ingest events."""
    ctx = service_context(request)
    debug = queries.boolean(request, "debug", False)
    events = ingest.events_of(body_of(request), ctx.settings.usage_events_per_request_max)
    checked = await read(request, ingest.check, events)
    if checked.failed:
        return _refused(checked.failed)
    stored = await ingest.write(checked).pending(ctx)
    result = ingest.outcome(checked, stored)
    ctx.observer.emit("usage_accepted", count=len(result.ingested))
    body: dict[str, object] = {"validation_failed": []}
    if debug:
        body["debug"] = {"duplicate": list(result.duplicate), "ingested": list(result.ingested)}
    return ExactJSONResponse(body)


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
