"""Request plumbing shared by routes: the service context, the checked body, replies.

A write route parses its body (already checked by the gate), builds one use case's `Work`
and hands it to `respond`, which runs it as one idempotent, rendered write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from drawdown.api.errors import ApiError
from drawdown.services.access.idempotency import for_request
from drawdown.services.context import ServiceContext
from drawdown.services.credits.reads import CatchUpFirst, catch_up_work
from drawdown.services.errors import validation_errors_of
from drawdown.services.write_path import Idempotency, Replier, Work

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def service_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def body_of(request: Request) -> dict[str, Any]:
    """The JSON object the gate parsed and checked (docs/rules.md §1.2)."""
    body: dict[str, Any] = request.scope["state"].get("json", {})
    return body


def validated(model: type[M], body: dict[str, Any]) -> M:
    """`body` checked against a wire model; failures become a 400 naming each field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(
            "validation",
            "One or more fields in the request body are invalid.",
            validation_errors=validation_errors_of(exc),
        ) from exc


def idempotency_of(request: Request) -> Idempotency | None:
    """The POST's Idempotency-Key with its request fingerprint (docs/rules.md §1.9)."""
    state = request.scope["state"]
    key = state.get("idempotency_key")
    if key is None:
        return None
    return for_request(state["api_scope"], key, "POST", request.scope["path"], body_of(request))


READ_ATTEMPTS_MAX = 3  # a catch-up per attempt; more expiries falling due meanwhile is rare


async def read(request: Request, use_case: Callable[..., T | CatchUpFirst], *args: Any) -> T:
    """Run a read use case: on the event loop for SQLite, in a thread for PostgreSQL.

    A read that finds due expiries on the loop cannot wait there for their write (the loop
    runs it); it answers `CatchUpFirst`, the write is awaited, and the read runs again. In
    a thread a read writes them itself.
    """
    ctx = service_context(request)
    if ctx.db.reads_on_loop:
        for _ in range(READ_ATTEMPTS_MAX - 1):
            found = use_case(ctx, *args)
            if not isinstance(found, CatchUpFirst):
                return found
            await catch_up_work(found.ref).pending(ctx)
    found = await run_in_threadpool(use_case, ctx, *args)
    assert not isinstance(found, CatchUpFirst), "a read in a thread writes its own catch-up"
    return found


async def respond(request: Request, work: Work[T], replier: Replier[T]) -> Response:
    """Run `work` as one write (idempotent for POSTs) and send what it rendered."""
    idempotency = idempotency_of(request)
    reply = await work.reply(service_context(request), replier, idempotency)
    headers = dict(reply.headers)
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency.key
        if reply.replayed:
            headers["Idempotent-Replayed"] = "true"
    if reply.status == 204:
        return Response(status_code=204, headers=headers)
    return Response(reply.body, reply.status, headers, media_type="application/json")
