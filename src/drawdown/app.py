"""The composition root: settings → database → service context → the API and the console.

This is the only module that knows every part. It opens the database (`store`), builds
the `ServiceContext` the use cases share, and serves the API (`api/`, under /v1) and the
console (`web/`, under /console) side by side behind one small ASGI front (`Front`) that
bounds request bodies, tags each request with an id and answers anything else with an
Orb-shaped 404. The CLI (`cli/`) and the server processes (`serving.py`) start here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawdown.api.app import ROUTE_TEMPLATES, create_api
from drawdown.api.forwarded import TrustedProxies
from drawdown.api.gate import answer_errors, header, send_error, send_json
from drawdown.api.schemas.webhooks import event_body
from drawdown.services import operations, status, telemetry
from drawdown.services.access import api_keys
from drawdown.services.billing import top_ups
from drawdown.services.context import ServiceContext
from drawdown.services.processes import Presence, base_url
from drawdown.services.usage.deduct import Deducter
from drawdown.services.webhooks import alerts
from drawdown.services.webhooks.delivery import Deliverer
from drawdown.settings import Settings
from drawdown.store.database import Database
from drawdown.store.engine import StoreConfig, UnsupportedDatabase
from drawdown.store.errors import explain_open_failure
from drawdown.store.migrate import Migration, SchemaTooNew
from drawdown.web.app import create_console

log = logging.getLogger("drawdown")

API_PREFIX = "/v1"
CONSOLE_PREFIX = "/console"
OPERATIONS_PATHS = frozenset(("/health", "/ready", "/metrics"))
REQUEST_ID_LENGTH_MAX = 128


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(
        database_url=settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        commit_batch_max=settings.commit_batch_max,
        clock_skew_max_seconds=settings.clock_skew_max_seconds,
    )


class StartupError(RuntimeError):
    """The database cannot be used as configured; the message is one line for a person."""


def build_context(settings: Settings, *, migrate: bool | None = None) -> ServiceContext:
    """Open the database and build the service context. Pending migrations are applied when
    `migrate` is True, or when it is None and `DRAWDOWN_AUTO_MIGRATE` is on; otherwise they
    are a StartupError (migrate=False skips the check: tests and tools on purpose)."""
    db = _open(settings)
    with _explained(db, settings):
        if migrate or (migrate is None and settings.auto_migrate == "on"):
            db.migrate()
        elif migrate is None and (pending := db.pending_migrations()):
            raise StartupError(
                f"the database needs migration(s) {', '.join(reversed(pending))}; run "
                "`drawdown migrate` (or leave DRAWDOWN_AUTO_MIGRATE on to apply them on start)"
            )
    # The end of every customer write: top-ups fire (R-TOP-3), then balance alerts evaluate
    # the final balances (R-ALR); the write path runs them, no use case calls them.
    endings = (top_ups.fire_due, alerts.evaluate)
    ctx = ServiceContext(db=db, settings=settings, write_endings=endings)
    telemetry.subscribe(ctx.observer)
    return ctx


@dataclass(frozen=True)
class Migrated:
    """What `migrate_database` did: the database (kind and location, never a password),
    the migrations it applied (oldest first) and the revision the schema is now at."""

    database: str
    applied: list[Migration]
    revision: str | None


def migrate_database(settings: Settings) -> Migrated:
    """Apply pending migrations (`drawdown migrate`) and say which."""
    db = _open(settings)
    try:
        with _explained(db, settings):
            applied = db.migrate()
            return Migrated(f"{db.kind} {db.location}", applied, db.schema_revision())
    finally:
        db.close()


def _open(settings: Settings) -> Database:
    try:
        return Database(store_config(settings), on_batch=telemetry.batch_committed)
    except UnsupportedDatabase as exc:
        raise StartupError(f"{exc} (DRAWDOWN_DATABASE_URL or --database-url)") from exc


@contextmanager
def _explained(db: Database, settings: Settings) -> Iterator[None]:
    """Close `db` on any failure and say in one line what a person can fix: a schema from
    a newer drawdown, a database that cannot be reached or opened (StartupError)."""
    try:
        yield
    except StartupError:
        db.close()
        raise
    except SchemaTooNew as exc:
        db.close()
        raise StartupError(
            f"the database is at schema revision {exc.revision!r}, made by a newer drawdown; "
            "run that version (or restore a backup taken before the upgrade)"
        ) from exc
    except Exception as exc:
        db.close()
        explained = explain_open_failure(exc, settings.database_url)
        if explained is None:
            raise
        raise StartupError(explained) from exc


# Webhook deliverers, usage deducters and presences of the serving contexts of this
# process, by context id.
_deliverers: dict[int, Deliverer] = {}
_deducters: dict[int, Deducter] = {}
_presences: dict[int, Presence] = {}


def start_serving(ctx: ServiceContext) -> None:
    """What a serving process runs beside requests: the API key cache's refresher and,
    unless `DRAWDOWN_WEBHOOK_DELIVERY=off`, the webhook deliverer, and unless
    `DRAWDOWN_USAGE_DEDUCTION=off`, the usage deducter; and its presence in the database,
    which `drawdown status` lists (`services/processes.py`)."""
    api_keys.start_cache(ctx, refresh=True)
    settings = ctx.settings
    presence = Presence(ctx, base_url(settings.host, settings.port), status.version())
    _presences[id(ctx)] = presence
    presence.start()
    if ctx.settings.webhook_delivery == "on":
        deliverer = Deliverer(ctx, render=event_body)
        _deliverers[id(ctx)] = deliverer
        deliverer.start()
    if ctx.settings.usage_deduction == "on":
        deducter = Deducter(ctx)
        _deducters[id(ctx)] = deducter
        deducter.start()


def stop_serving(ctx: ServiceContext) -> None:
    telemetry.flush_logs()
    deliverer = _deliverers.pop(id(ctx), None)
    if deliverer is not None:
        deliverer.stop()
    deducter = _deducters.pop(id(ctx), None)
    if deducter is not None:
        deducter.stop()
    presence = _presences.pop(id(ctx), None)
    if presence is not None:
        presence.stop()
    ctx.keys.stop()
    ctx.db.close()


def configure_logging(settings: Settings | None = None) -> None:
    """Logs to stderr at DRAWDOWN_LOG_LEVEL, as DRAWDOWN_LOG_FORMAT (services/telemetry)."""
    telemetry.configure_logging(settings or Settings.from_env())


def create_app(settings: Settings | None = None, ctx: ServiceContext | None = None) -> Front:
    """The ASGI application a server process runs."""
    settings = settings or Settings.from_env()
    ctx = ctx or build_context(settings)
    return Front(ctx, api=create_api(ctx), console=create_console(ctx))


class Front:
    """Routes /v1 to the API and /console to the console, after what both share: the
    client address and scheme (believed from trusted proxies only, api/forwarded.py), the
    body limit, the request id and the access log."""

    def __init__(self, ctx: ServiceContext, *, api: ASGIApp, console: ASGIApp) -> None:
        self.ctx = ctx
        self.api = api
        self.console = console
        self.body_limit = ctx.settings.request_body_bytes_max
        self.metrics = telemetry.RequestMetrics()
        self.backlog = telemetry.BacklogGauges(ctx)
        settings = ctx.settings
        self.proxies = TrustedProxies(settings.trusted_proxies, settings.forwarded_header)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        if self.proxies:
            self.proxies.resolve(scope)
        path: str = scope["path"]
        state = scope.setdefault("state", {})
        request_id = _request_id(scope)
        state["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            await self._route(scope, path, receive, sending)
        except BaseException:
            status = status or 500
            raise
        finally:
            # The path as sent (still percent-encoded): a decoded one could break the line.
            raw = scope.get("raw_path")
            client = scope.get("client")
            self.metrics.record(
                scope["method"], _route_label(scope, path), raw.decode("latin-1") if raw else path,
                status or 499, time.perf_counter() - started, request_id,
                client[0] if client else "-",
            )  # fmt: skip

    async def _route(self, scope: Scope, path: str, receive: Receive, send: Send) -> None:
        if path in OPERATIONS_PATHS:
            await self._operations(path, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        scope["state"]["body"] = body
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self.api(scope, _replaying(body, receive), send)
        elif path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            await answer_errors(self.console, scope, _replaying(body, receive), send)
        else:
            await send_error(send, "url_not_found", "No such URL.")

    async def _operations(self, path: str, send: Send) -> None:
        """/health (the process answers), /ready (database reachable, schema current) and
        /metrics (Prometheus): unauthenticated, for load balancers and scrapers."""
        if path == "/metrics":
            body = await asyncio.to_thread(telemetry.exposition, self.backlog)
            headers = [(b"content-type", telemetry.METRICS_CONTENT_TYPE.encode()),
                       (b"content-length", str(len(body)).encode())]  # fmt: skip
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if path == "/health":
            await send_json(send, 200, b'{"status":"ok"}')
            return
        ready = await asyncio.to_thread(operations.readiness, self.ctx)
        await send_json(send, 200 if ready.ok else 503, json.dumps(ready.body()).encode())

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
                self.ctx.db.attach_loop(asyncio.get_running_loop())
                start_serving(self.ctx)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # From a thread: the last writes (API key use, a delivery poll) go through
                # the committer, which on SQLite runs its batches on this very loop.
                await asyncio.get_running_loop().run_in_executor(None, stop_serving, self.ctx)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _request_id(scope: Scope) -> str:
    """The client's X-Request-Id when it is 1-128 characters of [A-Za-z0-9._:/+=@-] (safe
    in a log line and a header), else a new one: this process's random prefix and a count,
    unique without a system call per request."""
    given = header(scope, b"x-request-id")
    if given and _CLIENT_REQUEST_ID.fullmatch(given):
        return given
    return f"{_REQUEST_ID_PREFIX}{next(_request_count):x}"


_CLIENT_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:/+=@-]{{1,{REQUEST_ID_LENGTH_MAX}}}")
_REQUEST_ID_PREFIX = secrets.token_hex(4) + "-"
_request_count = itertools.count(1)


def _new_request_id_prefix() -> None:
    global _REQUEST_ID_PREFIX, _request_count
    _REQUEST_ID_PREFIX = secrets.token_hex(4) + "-"
    _request_count = itertools.count(1)


# Workers are forked from a fork server that imported this module (serving.py): each needs
# its own prefix, or two workers would hand out the same request ids.
os.register_at_fork(after_in_child=_new_request_id_prefix)


def _route_label(scope: Scope, path: str) -> str:
    """The route template for metrics: a bounded set of values, never a concrete id."""
    template = ROUTE_TEMPLATES.get(scope.get("endpoint"))
    if template is not None:
        return template
    if path in OPERATIONS_PATHS:
        return path
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        return CONSOLE_PREFIX
    return "unmatched"


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


__all__ = [
    "Front", "Migrated", "StartupError", "build_context", "configure_logging", "create_app",
    "migrate_database",
]  # fmt: skip
