"""ASGI middleware for what every /v1 request shares: body limit, authentication, idempotency.

Authentication runs before routing, so an unauthenticated request to an unknown
path is a 401, not a 404 (spec §1.4).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import Any

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawdown.api.errors import error_body
from drawdown.api.paths import routable_path
from drawdown.api.queries import without_blank_params
from drawdown.api.rate_limit import RateLimiter
from drawdown.services import api_keys, idempotency
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ServiceError

API_PREFIX = "/v1"
AUTH_DETAIL = "The API key in the Authorization header is missing or not valid."


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": base + headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(
    send: Send,
    kind: str,
    detail: str | None,
    headers: list[tuple[bytes, bytes]] | None = None,
    validation_errors: list[dict[str, str]] | None = None,
) -> None:
    body = error_body(kind, detail, validation_errors)
    await _send_json(send, body["status"], json.dumps(body).encode(), headers or [])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ApiGate:
    """Bounds every body; for /v1 also authenticates and applies Idempotency-Key on POSTs."""

    def __init__(self, app: ASGIApp, ctx: ServiceContext) -> None:
        self.app = app
        self.ctx = ctx
        settings = ctx.settings
        self.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The size limit covers every path, the console's public sign-in form included.
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        if not scope["path"].startswith(API_PREFIX):
            await self.app(scope, _replaying(body, receive), send)
            return
        api_scope = await self._authenticate(scope)
        if api_scope is None:
            await _send_error(send, "authentication", AUTH_DETAIL)
            return
        if self.limiter.enabled and (wait := self.limiter.retry_after_seconds(api_scope)):
            headers = [(b"retry-after", str(wait).encode())]
            await _send_error(send, "rate_limited", "Too many requests; retry later.", headers)
            return
        scope.setdefault("state", {})["api_scope"] = api_scope
        scope["path"] = routable_path(scope)
        scope["query_string"] = without_blank_params(scope.get("query_string", b""))
        replay_receive = _replaying(body, receive)
        key = _header(scope, b"idempotency-key")
        if scope["method"] == "POST" and key is not None:
            await self._idempotent(scope, replay_receive, send, api_scope, key, body)
        else:
            await self.app(scope, replay_receive, send)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        limit = self.ctx.settings.request_body_bytes_max
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_error(
                send, "request_too_large", f"Request bodies are limited to {limit} bytes."
            )
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_error(
                    send, "request_too_large", f"Request bodies are limited to {limit} bytes."
                )
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _authenticate(self, scope: Scope) -> str | None:
        header = _header(scope, b"authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await to_thread.run_sync(api_keys.verify, self.ctx, token.strip())

    async def _idempotent(
        self, scope: Scope, receive: Receive, send: Send, api_scope: str, key: str, body: bytes
    ) -> None:
        print_ = idempotency.fingerprint("POST", scope["path"], _canonical_body(body))
        key_header = [(b"idempotency-key", key.encode("latin-1"))]
        try:
            stored = await to_thread.run_sync(idempotency.claim, self.ctx, api_scope, key, print_)
        except ServiceError as exc:
            headers = key_header + _conflict_headers(exc)
            errors = [{"field": exc.field or "body", "message": exc.message}]
            await _send_error(send, exc.kind, exc.message, headers, errors)
            return
        if stored is not None:
            replayed = [*key_header, (b"idempotent-replayed", b"true")]
            await _send_json(send, stored.status_code, stored.body.encode(), replayed)
            return
        captured = _Capture(send, key_header)
        try:
            await self.app(scope, receive, captured.send)
        finally:
            response = idempotency.StoredResponse(captured.status, captured.body.decode())
            await to_thread.run_sync(idempotency.record, self.ctx, api_scope, key, response)


def _conflict_headers(exc: ServiceError) -> list[tuple[bytes, bytes]]:
    if isinstance(exc, idempotency.KeyReusedWithDifferentRequest):
        return [(b"x-should-retry", b"false")]
    return []


def _canonical_body(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal) if body else None
    except ValueError:
        return body.decode("latin-1")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """Hand the already-read body to the app once, then pass through to the real channel.

    Passing through matters: streaming responses (static files) listen for
    `http.disconnect`, and a fake one would cut them off mid-response.
    """
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _Capture:
    """Forwards a response while keeping its status and body for the idempotency record."""

    def __init__(self, send: Send, extra_headers: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self._extra = extra_headers
        self.status = 500
        self.body = b""

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = dict(message)
            message["headers"] = list(message.get("headers", [])) + self._extra
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        await self._send(message)


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
