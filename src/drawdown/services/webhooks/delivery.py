"""Delivering the outbox: a background thread in every serving process.

Each poll: reload the endpoint list; once a minute (`DRAWDOWN_WEBHOOK_EXPIRING_SCAN_SECONDS`)
look for credits about to expire; if a
delivery is due (a read), claim up to `CLAIM_MAX` of them in one write job (a lease, so no
other process sends the same attempt), send them in parallel, and record every attempt in
another write job. A 2xx is delivered; anything else is retried after
`base × 4^(attempt-1)` seconds (at most 6 h) until `DRAWDOWN_WEBHOOK_ATTEMPTS_MAX`, then
failed. A process that dies mid-send leaves a lease that runs out; the delivery is then
sent again with the same `webhook-id`, which receivers dedupe on: an event is delivered at
least once and never lost.

Every failed attempt is a warning in the log (endpoint id and URL without credentials, the
status or error, attempt n of max, the next retry) and a delivery given up is an error;
each attempt is reported to the observer (`webhook_attempted`: outcome and seconds), which
the metrics count (services/telemetry.py).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from drawdown.ledger.dates import format_instant
from drawdown.records import ClaimedDelivery, Customer, WebhookAttempt, WebhookEvent
from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.services.errors import WritesUnavailable
from drawdown.services.webhooks import expiring, signing
from drawdown.services.webhooks.redact import safe_url, scrub
from drawdown.store import webhooks as store
from drawdown.store.tx import Tx

log = logging.getLogger("drawdown.webhooks")

CLAIM_MAX = 32
SENDERS_MAX = 8
RETRY_DELAY_SECONDS_MAX = 6 * 3600
ERROR_LENGTH_MAX = 500
STOP_WAIT_SECONDS = 2.0

Render = Callable[[WebhookEvent, Customer], str]


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Recorded:
    """Where an attempt left its delivery: delivered, pending (retried at `next_attempt_at`)
    or failed (given up); `moved` is False when this process's lease had run out."""

    status: str
    next_attempt_at: datetime | None
    moved: bool


Send = Callable[[str, dict[str, str], bytes, float], Response]


def http_send(url: str, headers: dict[str, str], body: bytes, timeout: float) -> Response:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        **headers, "Content-Type": "application/json", "User-Agent": "drawdown-webhooks",
    })  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Response(reply.status, None)
    except urllib.error.HTTPError as exc:
        return Response(exc.code, f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:  # refused, timed out, DNS, bad URL
        return Response(None, scrub(f"{type(exc).__name__}: {exc}", url)[:ERROR_LENGTH_MAX])


def retry_delay(attempt: int, base_seconds: float) -> timedelta:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped."""
    return timedelta(seconds=min(base_seconds * 4 ** (attempt - 1), RETRY_DELAY_SECONDS_MAX))


class Deliverer:
    """Delivers due webhooks; `run_once` is one poll (tests call it directly)."""

    def __init__(self, ctx: ServiceContext, render: Render, send: Send = http_send) -> None:
        self.ctx, self.render, self.send = ctx, render, send
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_scan = 0.0
        self._pool = concurrent.futures.ThreadPoolExecutor(SENDERS_MAX, "drawdown-webhook")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="drawdown-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling. Not waiting long: on SQLite the writes of a poll run on the event
        loop that calls this; an interrupted poll's leases simply run out (sent again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_SECONDS)
        self._pool.shutdown(wait=False)

    def _loop(self) -> None:
        while not self._stop.wait(self.ctx.settings.webhook_poll_seconds):
            try:
                self.run_once()
            except WritesUnavailable:  # the clock guard logged it once; try again next poll
                pass
            except Exception:  # the database may be away for a moment: try again next poll
                log.exception("webhook delivery poll failed")

    def run_once(self) -> int:
        """Refresh, scan if due, send what is due; returns the attempts made."""
        ctx = self.ctx
        with ctx.db.read() as tx:
            ctx.webhooks.replace(store.live_endpoints(tx))
            due = store.has_due(tx, ctx.now())
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + ctx.settings.webhook_expiring_scan_seconds
            if expiring.scan(ctx):
                due = True
        if not due:
            return 0
        claimed = write_path.work(self._claim).run(ctx)
        list(self._pool.map(self._attempt, claimed))
        return len(claimed)

    def _claim(self, tx: Tx, now: datetime) -> list[ClaimedDelivery]:
        settings = self.ctx.settings
        lease = timedelta(seconds=settings.webhook_timeout_seconds * 3 + 30)
        claimed = store.claim_due(tx, now, CLAIM_MAX, now + lease, self.ctx.new_id())
        return [c if c.body is not None else replace(c, body=self._body(tx, c)) for c in claimed]

    def _body(self, tx: Tx, claimed: ClaimedDelivery) -> str:
        """Render an event once, with its customer as it is now; every attempt sends it."""
        event = store.event(tx, claimed.customer_id, claimed.event_id)
        customer = store.customer_any(tx, claimed.customer_id)
        assert event is not None and customer is not None
        body = self.render(event, customer)
        store.set_body(tx, claimed.customer_id, claimed.event_id, body)
        return body

    def _attempt(self, claimed: ClaimedDelivery) -> None:
        ctx = self.ctx
        assert claimed.body is not None
        started, at = time.monotonic(), ctx.now()
        headers = signing.headers(claimed.secret, claimed.event_id, int(at.timestamp()),
                                  claimed.body)  # fmt: skip
        reply = self.send(claimed.url, headers, claimed.body.encode(),
                          ctx.settings.webhook_timeout_seconds)  # fmt: skip
        seconds = time.monotonic() - started
        ok = reply.status_code is not None and 200 <= reply.status_code < 300
        error = None if ok else reply.error or f"HTTP {reply.status_code}"
        attempt = WebhookAttempt(claimed.customer_id, ctx.new_id(), claimed.event_id,
                                 claimed.endpoint_id, at, reply.status_code, error,
                                 int(seconds * 1000))  # fmt: skip
        record = write_path.work(lambda tx, now: self._record(tx, now, claimed, attempt, ok))
        report(ctx, claimed, attempt, record.run(ctx), seconds)

    def _record(
        self, tx: Tx, now: datetime, claimed: ClaimedDelivery, attempt: WebhookAttempt, ok: bool
    ) -> Recorded:
        settings = self.ctx.settings
        number = claimed.attempts + 1
        if ok:
            status, next_at = "delivered", None
        elif number >= settings.webhook_attempts_max:
            status, next_at = "failed", None
        else:
            status = "pending"
            next_at = now + retry_delay(number, settings.webhook_retry_base_seconds)
        moved = store.record_attempt(tx, claimed, attempt, status=status, next_attempt_at=next_at)
        return Recorded(status, next_at, moved)


# --- what an attempt tells the operator ------------------------------------------------------

OUTCOMES = {"delivered": "delivered", "pending": "failed", "failed": "dead"}


def report(
    ctx: ServiceContext, claimed: ClaimedDelivery, attempt: WebhookAttempt, recorded: Recorded,
    seconds: float,
) -> None:  # fmt: skip
    """Log the attempt (a failure as a warning, giving up as an error) and tell the metrics.
    An attempt whose lease had run out moved nothing: it counts as delivered or failed."""
    outcome = OUTCOMES[recorded.status]
    if not recorded.moved:
        outcome = "failed" if attempt.error else "delivered"
    ctx.observer.emit("webhook_attempted", outcome=outcome, seconds=seconds)
    number, most = claimed.attempts + 1, ctx.settings.webhook_attempts_max
    fields = {"endpoint_id": claimed.endpoint_id, "url": safe_url(claimed.url),
              "event_id": claimed.event_id, "status_code": attempt.status_code,
              "error": attempt.error, "attempt": number, "attempts_max": most,
              "outcome": outcome}  # fmt: skip
    where = f"event {claimed.event_id} to endpoint {claimed.endpoint_id} ({fields['url']})"
    if not recorded.moved:
        log.warning("webhook attempt %d of %s: %s; its lease had run out, so the process "
                    "that took the delivery over decides what follows",
                    number, where, attempt.error or "delivered", extra=fields)  # fmt: skip
    elif outcome == "delivered":
        log.debug("webhook delivered: %s, attempt %d, %d ms", where, number,
                  attempt.duration_ms, extra=fields)  # fmt: skip
    elif outcome == "failed":
        assert recorded.next_attempt_at is not None
        retry = format_instant(recorded.next_attempt_at, fractions=False)
        wait = (recorded.next_attempt_at - ctx.now()).total_seconds()
        log.warning("webhook delivery failed: %s: %s; attempt %d of %d, next retry at %s "
                    "(in %.0fs)", where, attempt.error, number, most, retry, wait,
                    extra={**fields, "next_attempt_at": retry})  # fmt: skip
    else:
        log.error("webhook delivery given up: %s: %s; attempt %d of %d was the last "
                  "(`drawdown webhooks replay %s` sends it again)", where, attempt.error,
                  number, most, claimed.event_id, extra=fields)  # fmt: skip
