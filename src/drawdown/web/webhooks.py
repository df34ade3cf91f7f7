"""The webhooks page: register endpoints (a generated secret is shown once), remove them,
see every delivery and each attempt (time, response code or error), replay an event."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.services.errors import ServiceError
from drawdown.services.webhooks import endpoints
from drawdown.services.webhooks.events import EVENT_TYPES
from drawdown.web.auth import checked_form
from drawdown.web.pages import codec_of, context_of, redirect, render

router = APIRouter()
WEBHOOKS_PATH = "/console/webhooks"


@router.get("/webhooks")
async def webhooks_page(request: Request, notice: str | None = None) -> Response:
    """Webhook endpoints and deliveries."""
    created = codec_of(request).read_flash(request)
    response = await _render(request, {"created": created, "notice": notice})
    if created is not None:
        codec_of(request).clear_flash(request, response, WEBHOOKS_PATH)
    return response


@router.post("/webhooks")
async def add_endpoint(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Register a webhook endpoint."""
    url, secret = str(form.get("url", "")), str(form.get("secret", "")).strip() or None
    kinds = [str(v) for v in form.getlist("events")]
    try:
        created = await run_in_threadpool(
            endpoints.add_endpoint, context_of(request), url, secret, kinds
        )
    except ServiceError as exc:
        errors = {exc.field or "url": exc.message}
        return await _render(request, {"url": url, "chosen": kinds, "errors": errors}, 400)
    response = redirect(request, WEBHOOKS_PATH)
    flash = {"url": created.endpoint.url, "secret": created.secret if secret is None else None}
    codec_of(request).set_flash(request, response, WEBHOOKS_PATH, flash)
    return response


@router.post("/webhooks/{endpoint_id}/remove")
async def remove_endpoint(
    request: Request, endpoint_id: str, _: FormData = Depends(checked_form)
) -> Response:
    """Remove a webhook endpoint."""
    try:
        await run_in_threadpool(endpoints.remove_endpoint, context_of(request), endpoint_id)
    except ServiceError:
        return _not_found(request)
    return redirect(request, f"{WEBHOOKS_PATH}?notice=removed")


@router.post("/webhooks/events/{event_id}/replay")
async def replay_event(
    request: Request, event_id: str, form: FormData = Depends(checked_form)
) -> Response:
    """Send an event again, with the same webhook-id."""
    endpoint_id = str(form.get("endpoint_id", "")) or None
    try:
        await run_in_threadpool(endpoints.replay, context_of(request), event_id, endpoint_id)
    except ServiceError:
        return _not_found(request)
    return redirect(request, f"{WEBHOOKS_PATH}?notice=replayed")


async def _render(request: Request, extra: dict[str, object], status: int = 200) -> Response:
    ctx = context_of(request)
    found = await run_in_threadpool(endpoints.list_endpoints, ctx)
    outbox = await run_in_threadpool(endpoints.outbox, ctx)
    context = {"nav": "webhooks", "endpoints": found, "outbox": outbox,
               "event_types": EVENT_TYPES, **extra}  # fmt: skip
    return render(request, "webhooks.html", context, status)


def _not_found(request: Request) -> Response:
    message = "There is no such webhook endpoint or event."
    return render(request, "error.html", {"title": "Not found", "message": message}, 404)
