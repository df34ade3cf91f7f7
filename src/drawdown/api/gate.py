"""What every /v1 request passes before routing: authentication, rate limit, clean input.

Authentication runs before routing, so an unauthenticated request to an unknown path is a
401, not a 404 (docs/rules.md §1.4); it is a dictionary lookup (`services/access/key_cache.py`), no
database round trip. The body (already read and size-checked by the composition root's
`BodyLimit`) is parsed and checked here once (`hygiene.py`, docs/rules.md §1.2) and handed to the
routes in `scope["state"]`; path, query and Idempotency-Key are checked too. A request
refused here never reaches a use case, so it stores nothing (docs/rules.md §1.9 rule 1).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawdown.api import hygiene, openapi
from drawdown.api.errors import (
    ApiError,
    error_body,
    error_response_for,
    internal_error_response,
)
from drawdown.api.paths import routable_path
from drawdown.api.queries import without_blank_params
from drawdown.api.rate_limit import RateLimiter
from drawdown.services import telemetry
from drawdown.services.context import ServiceContext
from drawdown.services.errors import database_failure

log = logging.getLogger("drawdown.api")

# The API reference (`api/openapi.py`) is public, as Orb's is: no key, no rate limit.
PUBLIC_PATHS = frozenset("/v1" + path for path in openapi.PUBLIC_PATHS)
AUTH_DETAIL = "The API key in the Authorization header is missing or not valid."


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": base + (headers or [])})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    kind: str,
    detail: str | None,
    headers: list[tuple[bytes, bytes]] | None = None,
    validation_errors: list[dict[str, str]] | None = None,
) -> None:
    body = error_body(kind, detail, validation_errors)
    await send_json(send, body["status"], json.dumps(body).encode(), headers)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def answer_errors(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app`; any error it raises becomes its Orb error, an unexpected one a 500 that
    leaks nothing (docs/rules.md §1.8).

    Answered here rather than re-raised, so the server keeps the client's keep-alive
    connection (Starlette's own last-resort handler re-raises, and uvicorn then closes it).
    """
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, tracking_send)
    except Exception as exc:
        if started:
            raise
        response = error_response_for(exc)
        if response is None:
            request_id = scope.get("state", {}).get("request_id")
            if (kind := database_failure(exc)) is not None:
                telemetry.database_error(kind)
            log.exception("unhandled error: %s %s request_id=%s", scope["method"],
                          scope["path"], request_id, extra={"request_id": request_id})  # fmt: skip
            response = internal_error_response(exc)
        await response(scope, receive, send)


class ApiGate:
    """Authenticates /v1 requests and checks their input before the router sees them."""

    def __init__(self, app: ASGIApp, ctx: ServiceContext) -> None:
        self.app = app
        self.ctx = ctx
        # Routes reach the context as `request.app.state.ctx`; with an app in the scope,
        # Starlette's router raises (404/405) instead of answering in plain text.
        self.state = State({"ctx": ctx})
        settings = ctx.settings
        self.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        public = scope["path"] in PUBLIC_PATHS and scope["method"] in ("GET", "HEAD")
        api_scope = "" if public else self._authenticate(scope)
        if api_scope is None:
            await send_error(send, "authentication", AUTH_DETAIL)
            return
        limited = not public and self.limiter.enabled
        if limited and (wait := self.limiter.retry_after_seconds(api_scope)):
            headers = [(b"retry-after", str(wait).encode())]
            await send_error(send, "rate_limited", "Too many requests; retry later.", headers)
            return
        state = scope.setdefault("state", {})
        try:
            self._check_input(scope, state)
        except ApiError as error:
            await send_error(send, error.kind, error.detail, None,
                             [dict(e) for e in error.validation_errors or []])  # fmt: skip
            return
        state["api_scope"] = api_scope
        scope["app"] = self
        await answer_errors(self.app, scope, receive, send)

    def _authenticate(self, scope: Scope) -> str | None:
        value = header(scope, b"authorization") or ""
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return self.ctx.keys.verify(token)

    def _check_input(self, scope: Scope, state: dict[str, Any]) -> None:
        path = routable_path(scope)
        hygiene.check_path(scope.get("raw_path"), path)
        scope["path"] = path
        query = without_blank_params(scope.get("query_string", b""))
        scope["query_string"] = query
        hygiene.check_query_string(query)
        key = header(scope, b"idempotency-key")
        if key is not None and scope["method"] == "POST":
            limit = self.ctx.settings.idempotency_key_length_max
            state["idempotency_key"] = hygiene.check_idempotency_key(key, limit)
        raw = state.get("body", b"")
        hygiene.check_content_encoding(header(scope, b"content-encoding"))
        if scope["method"] in ("POST", "PUT", "PATCH"):
            state["json"] = hygiene.parse_body(raw, header(scope, b"content-type"))
