"""The composition root: settings → database → service context → the API and the console.

This is the only module that knows every part. It opens the database (`store`), builds
the `ServiceContext` the use cases share, and serves the API (`api/`, under /v1) and the
console (`web/`, under /console) side by side behind one small ASGI front (`Front`) that
bounds request bodies, tags each request with an id and answers anything else with an
Orb-shaped 404. The CLI (`cli.py`) and the server processes (`serving.py`) start here.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawdown.api.app import create_api
from drawdown.api.gate import answer_errors, header, send_error
from drawdown.api.schemas.webhooks import event_body
from drawdown.services.access import api_keys
from drawdown.services.context import ServiceContext
from drawdown.services.usage.deduct import Deducter
from drawdown.services.webhooks.delivery import Deliverer
from drawdown.settings import Settings
from drawdown.store.database import Database
from drawdown.store.engine import StoreConfig
from drawdown.web.app import create_console

log = logging.getLogger("drawdown")

API_PREFIX = "/v1"
CONSOLE_PREFIX = "/console"
REQUEST_ID_LENGTH_MAX = 128


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(
        database_url=settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        commit_batch_max=settings.commit_batch_max,
    )


def build_context(settings: Settings, *, migrate: bool = True) -> ServiceContext:
    """Open the database (migrating it unless told not to) and build the service context."""
    db = Database(store_config(settings))
    if migrate:
        db.migrate()
    return ServiceContext(db=db, settings=settings)


# Webhook deliverers and usage deducters of the serving contexts of this process, by
# context id.
_deliverers: dict[int, Deliverer] = {}
_deducters: dict[int, Deducter] = {}


def start_serving(ctx: ServiceContext) -> None:
    """What a serving process runs beside requests: the API key cache's refresher and,
    unless `DRAWDOWN_WEBHOOK_DELIVERY=off`, the webhook deliverer, and unless
    `DRAWDOWN_USAGE_DEDUCTION=off`, the usage deducter."""
    api_keys.start_cache(ctx, refresh=True)
    if ctx.settings.webhook_delivery == "on":
        deliverer = Deliverer(ctx, render=event_body)
        _deliverers[id(ctx)] = deliverer
        deliverer.start()
    if ctx.settings.usage_deduction == "on":
        deducter = Deducter(ctx)
        _deducters[id(ctx)] = deducter
        deducter.start()


def stop_serving(ctx: ServiceContext) -> None:
    deliverer = _deliverers.pop(id(ctx), None)
    if deliverer is not None:
        deliverer.stop()
    deducter = _deducters.pop(id(ctx), None)
    if deducter is not None:
        deducter.stop()
    ctx.keys.stop()
    ctx.db.close()


def create_app(settings: Settings | None = None, ctx: ServiceContext | None = None) -> Front:
    """The ASGI application a server process runs."""
    settings = settings or Settings.from_env()
    ctx = ctx or build_context(settings)
    return Front(ctx, api=create_api(ctx), console=create_console(ctx))


class Front:
    """Routes /v1 to the API and /console to the console, after what both share."""

    def __init__(self, ctx: ServiceContext, *, api: ASGIApp, console: ASGIApp) -> None:
        self.ctx = ctx
        self.api = api
        self.console = console
        self.body_limit = ctx.settings.request_body_bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        state = scope.setdefault("state", {})
        request_id = _request_id(scope)
        state["request_id"] = request_id
        send = _with_request_id(send, request_id)
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        state["body"] = body
        path: str = scope["path"]
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self.api(scope, _replaying(body, receive), send)
        elif path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            await answer_errors(self.console, scope, _replaying(body, receive), send)
        else:
            await send_error(send, "url_not_found", "No such URL.")

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None after answering 413 (every path: the console's public
        sign-in form too) or when the client went away."""
        limit = self.body_limit
        declared = header(scope, b"content-length")
        too_large = f"Request bodies are limited to {limit} bytes."
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, "request_too_large", too_large)
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
                await send_error(send, "request_too_large", too_large)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The loop first: background writers (webhooks) must find the committer set.
                if self.ctx.db.dialect == "sqlite":
                    self.ctx.db.committer.attach_loop(asyncio.get_running_loop())
                start_serving(self.ctx)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop_serving(self.ctx)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _request_id(scope: Scope) -> str:
    """The client's X-Request-Id when it is short printable ASCII, else a new one."""
    given = header(scope, b"x-request-id")
    if given and len(given) <= REQUEST_ID_LENGTH_MAX and given.isascii() and given.isprintable():
        return given
    return secrets.token_hex(8)


def _with_request_id(send: Send, request_id: str) -> Send:
    value = request_id.encode("latin-1")

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), (b"x-request-id", value)]
        await send(message)

    return sending


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


__all__ = ["Front", "build_context", "create_app"]
