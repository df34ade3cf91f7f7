"""Webhook endpoints (add, list, remove), how each is doing, the outbox as the console shows
it, and replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from drawdown.records import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.services.webhooks import events, signing
from drawdown.store import webhooks as store
from drawdown.store.tx import Tx

URL_LENGTH_MAX = 2048
ENDPOINTS_MAX = 100


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once (generated when none was given)


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > URL_LENGTH_MAX or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidField("url", f"must be an http(s) URL of at most {URL_LENGTH_MAX} characters")
    return url


def check_events(names: Sequence[str]) -> tuple[str, ...] | None:
    """The event types asked for (none given: every type)."""
    unknown = [n for n in names if n not in events.EVENT_TYPES]
    if unknown:
        raise InvalidField("events", f"unknown event {unknown[0]!r}; one of "
                           f"{', '.join(events.EVENT_TYPES)}")  # fmt: skip
    return tuple(dict.fromkeys(names)) or None


def add_endpoint(
    ctx: ServiceContext, url: str, secret: str | None, names: Sequence[str]
) -> NewEndpoint:
    url, wanted = check_url(url), check_events(names)
    secret = secret.strip() if secret else signing.new_secret()
    if signing.secret_key(secret) is None:
        raise InvalidField("secret", "must be whsec_ followed by 16-64 base64-encoded bytes")

    def add(tx: Tx, now: datetime) -> WebhookEndpoint:
        if len(store.live_endpoints(tx)) >= ENDPOINTS_MAX:
            raise InvalidField("url", f"at most {ENDPOINTS_MAX} webhook endpoints")
        endpoint = WebhookEndpoint(ctx.new_id(), url, secret, wanted, now, None)
        store.insert_endpoint(tx, endpoint)
        return endpoint

    endpoint = write_path.work(add).run(ctx)
    refresh(ctx)
    return NewEndpoint(endpoint, secret)


def list_endpoints(ctx: ServiceContext) -> list[WebhookEndpoint]:
    with ctx.db.read() as tx:
        return store.live_endpoints(tx)


def remove_endpoint(ctx: ServiceContext, endpoint_id: str) -> None:
    def remove(tx: Tx, now: datetime) -> None:
        endpoint = store.get_endpoint(tx, endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None:
            raise ResourceNotFound("WebhookEndpoint", endpoint_id)
        store.remove_endpoint(tx, endpoint_id, now)

    write_path.work(remove).run(ctx)
    refresh(ctx)


def refresh(ctx: ServiceContext) -> None:
    """Reload this process's endpoint list (other processes reload it every poll)."""
    with ctx.db.read() as tx:
        ctx.webhooks.replace(store.live_endpoints(tx))


# --- how an endpoint is doing -----------------------------------------------------------------

ATTEMPTS_LOOKED_AT_MAX = 1000  # the last error and delivery are looked for among these


@dataclass(frozen=True)
class EndpointHealth:
    """What an operator asks of a failing endpoint: what waits, when it is tried next, when
    it last took a delivery and what its last failure said."""

    pending: int
    next_attempt_at: datetime | None
    last_delivered_at: datetime | None
    last_failure: WebhookAttempt | None


def succeeded(attempt: WebhookAttempt) -> bool:
    return attempt.status_code is not None and 200 <= attempt.status_code < 300


def failure_text(attempt: WebhookAttempt) -> str:
    return attempt.error or f"HTTP {attempt.status_code}"


def endpoint_health(ctx: ServiceContext, endpoint_id: str) -> EndpointHealth:
    with ctx.db.read() as tx:
        pending, next_at = store.endpoint_pending(tx, endpoint_id)
        recent = store.endpoint_attempts(tx, endpoint_id, ATTEMPTS_LOOKED_AT_MAX)
    delivered = next((a.attempted_at for a in recent if succeeded(a)), None)
    failure = next((a for a in recent if not succeeded(a)), None)
    return EndpointHealth(pending, next_at, delivered, failure)


# --- the outbox, for the console and the CLI --------------------------------------------------


@dataclass(frozen=True)
class Outbox:
    deliveries: list[WebhookDelivery]
    attempts: dict[tuple[str, str], list[WebhookAttempt]]  # (event id, endpoint id) -> attempts


def outbox(
    ctx: ServiceContext, *, endpoint_id: str | None = None, event_id: str | None = None,
    limit: int = 100,
) -> Outbox:  # fmt: skip
    with ctx.db.read() as tx:
        deliveries = store.recent_deliveries(tx, endpoint_id=endpoint_id, event_id=event_id,
                                             limit=limit)  # fmt: skip
        attempts: dict[tuple[str, str], list[WebhookAttempt]] = {}
        for attempt in store.attempts_of(tx, sorted({d.event_id for d in deliveries})):
            attempts.setdefault((attempt.event_id, attempt.endpoint_id), []).append(attempt)
    return Outbox(deliveries, attempts)


def replay(ctx: ServiceContext, event_id: str, endpoint_id: str | None = None) -> int:
    """Send an event again, with the same id, to one endpoint or every endpoint it went to
    (or, if it went nowhere yet, every endpoint that wants its type); returns how many."""

    def requeue(tx: Tx, now: datetime) -> int:
        event = store.find_event(tx, event_id)
        if event is None:
            raise ResourceNotFound("WebhookEvent", event_id)
        live = {e.id: e for e in store.live_endpoints(tx)}
        if endpoint_id is not None:
            if endpoint_id not in live:
                raise ResourceNotFound("WebhookEndpoint", endpoint_id)
            targets = [endpoint_id]
        else:
            sent = {d.endpoint_id for d in store.recent_deliveries(tx, event_id=event_id)}
            targets = sorted(sent & set(live)) or [
                e.id for e in live.values() if e.events is None or event.type in e.events
            ]
        return store.requeue(tx, event, targets, now)

    return write_path.work(requeue).run(ctx)
