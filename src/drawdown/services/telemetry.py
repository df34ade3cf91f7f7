"""Logs and metrics of a running drawdown: the access log, Prometheus metrics, log setup.

Requests are the hot path (issue 10), so what runs per request is small: a histogram and a
counter child looked up in a dict (`prometheus-client`'s `.labels()` takes a lock and
builds a tuple), and the access log line only when the `drawdown.access` logger is enabled
for INFO, decided once at start (`DRAWDOWN_LOG_LEVEL=warning` turns it off), written by
`FastAccessLog` rather than through `logging`. The line holds the client address as
`Front` resolved it (api/forwarded.py), never the API key, a query string or a body.

Several server processes (`serve --workers N`): the supervisor sets
`PROMETHEUS_MULTIPROC_DIR` for its workers before they start, so each records into shared
files and `/metrics`, whichever worker answers it, reports the sum over all of them
(prometheus-client's multiprocess mode). One process keeps its metrics in memory.

Background work reports through the observer: webhook attempts (`webhook_attempted`),
usage deductions (`usage_deducted`) and ledger entries (`entries_written`, which counts
expiries too, whichever path wrote them). What is waiting (the outbox, undeducted usage) is
not an event but a state: `BacklogGauges` reads it from the database when `/metrics` is
scraped, so those gauges are the same whichever worker answers and are never summed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from drawdown.ledger.model import Entry
from drawdown.services.backlog import Backlog, read_backlog
from drawdown.services.context import ServiceContext
from drawdown.services.observe import Observer
from drawdown.settings import Settings

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series per label set
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the API answers most requests in well under a millisecond.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

REQUESTS = Counter(
    "drawdown_http_requests", "HTTP requests answered, by route template and status",
    ("method", "route", "status"),
)  # fmt: skip
LATENCY = Histogram(
    "drawdown_http_request_duration_seconds", "Time to answer a request, by route template",
    ("method", "route"), buckets=LATENCY_BUCKETS,
)  # fmt: skip
ENTRIES = Counter(
    "drawdown_ledger_entries_written", "Ledger entries written, by entry type", ("entry_type",)
)
BATCHES = Histogram(
    "drawdown_commit_batch_size", "Writes that shared one transaction (group commit)",
    buckets=BATCH_BUCKETS,
)  # fmt: skip
DATABASE_ERRORS = Counter(
    "drawdown_database_errors", "Requests that failed on a database error", ("kind",)
)

# Background work. A webhook attempt is seconds at most (the timeout is 10 s by default);
# usage waits the grace period (an hour by default, or none) before it is drawn, so the lag
# buckets are fine around both.
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (
    0.5, 1, 2, 5, 10, 30, 60, 300, 900, 1800, 3600, 3605, 3615, 3630, 3660, 3720, 3900,
    4500, 5400, 7200, 14400, 43200, 86400,
)  # fmt: skip
DELIVERY_OUTCOMES = ("delivered", "failed", "dead")
DELIVERIES = Counter(
    "drawdown_webhook_deliveries", "Webhook delivery attempts by outcome: delivered, failed "
    "(retried later) or dead (the last attempt failed; given up)", ("outcome",),
)  # fmt: skip
DELIVERY_LATENCY = Histogram(
    "drawdown_webhook_delivery_duration_seconds", "Time of one webhook delivery attempt "
    "(request to answer or error)", buckets=DELIVERY_BUCKETS,
)  # fmt: skip
DEDUCTION_LAG = Histogram(
    "drawdown_usage_deduction_lag_seconds", "Time from a usage event's acceptance to the "
    "deduction that drew its credits (includes the grace period)", buckets=LAG_BUCKETS,
)  # fmt: skip
EXPIRIES = Counter(
    "drawdown_expiries_written", "credit_block_expiry entries written (by any catch-up)"
)
# Every outcome and error kind shows from the start, at 0 (so rates and alerts see them).
for _outcome in DELIVERY_OUTCOMES:
    DELIVERIES.labels(_outcome)
for _kind in ("transient", "other"):
    DATABASE_ERRORS.labels(_kind)

access_log = logging.getLogger("drawdown.access")


class RequestMetrics:
    """What the composition root's front records per request, kept cheap."""

    def __init__(self) -> None:
        self._latency: dict[tuple[str, str], Any] = {}
        self._count: dict[tuple[str, str, int], Any] = {}
        self.reconfigure()

    def reconfigure(self) -> None:
        """Re-read whether and how the access log is written (after logging was set up)."""
        self.access_log = access_log.isEnabledFor(logging.INFO)
        self.fast_log = _fast_access_log if self.access_log else None

    def record(
        self, method: str, route: str, path: str, status: int, seconds: float, request_id: str,
        client: str = "-",
    ) -> None:  # fmt: skip
        key = (method, route)
        latency = self._latency.get(key)
        if latency is None:
            latency = self._latency[key] = LATENCY.labels(method, route)
        latency.observe(seconds)
        count_key = (method, route, status)
        count = self._count.get(count_key)
        if count is None:
            count = self._count[count_key] = REQUESTS.labels(method, route, str(status))
        count.inc()
        if not self.access_log:
            return
        if self.fast_log is not None:
            self.fast_log.write(method, path, status, seconds, request_id, client)
            return
        access_log.info(
            "%s %s %d %.1fms request_id=%s client=%s", method, path, status, seconds * 1000,
            request_id, client,
            extra={"method": method, "path": path, "status": status,
                   "duration_ms": round(seconds * 1000, 3), "request_id": request_id,
                   "client": client},
        )  # fmt: skip


class FastAccessLog:
    """Access lines formatted directly and written once per event-loop turn.

    The same lines `logging` would write through `configure_logging`'s handler, at a
    fraction of the cost (measured: ~30 µs per request through `logging`, which builds a
    record, formats it and flushes the stream for every line): the timestamp's seconds part
    is formatted once per second, and the lines of all requests answered in one turn of the
    loop share one write.
    """

    def __init__(self, stream: Any, json_lines: bool) -> None:
        self.stream = stream
        self.json_lines = json_lines
        self.pending: list[str] = []
        self._second = -1
        self._stamp = ""

    def write(
        self, method: str, path: str, status: int, seconds: float, request_id: str, client: str
    ) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        stamp = f"{self._stamp}.{int((now - second) * 1000):03d}Z"
        ms = seconds * 1000
        if self.json_lines:
            line = orjson.dumps({
                "time": stamp, "level": "info", "logger": "drawdown.access",
                "message": f"{method} {path} {status} {ms:.1f}ms request_id={request_id} "
                           f"client={client}",
                "method": method, "path": path, "status": status,
                "duration_ms": round(ms, 3), "request_id": request_id, "client": client,
            }).decode() + "\n"  # fmt: skip
        else:
            line = (f"{stamp} INFO drawdown.access {method} {path} {status} {ms:.1f}ms "
                    f"request_id={request_id} client={client}\n")  # fmt: skip
        self.pending.append(line)
        if len(self.pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        if lines:
            self.stream.write("".join(lines))
            self.stream.flush()


# Set by `configure_logging` (None: access lines go through `logging`, e.g. under pytest).
_fast_access_log: FastAccessLog | None = None


def flush_logs() -> None:
    if _fast_access_log is not None:
        _fast_access_log.flush()


def database_error(kind: str) -> None:
    DATABASE_ERRORS.labels(kind).inc()


def batch_committed(size: int) -> None:
    BATCHES.observe(size)


def _entries_written(entries: Iterable[Entry], **_: Any) -> None:
    for entry in entries:
        ENTRIES.labels(entry.entry_type).inc()
        if entry.entry_type == "credit_block_expiry":
            EXPIRIES.inc()


def _webhook_attempted(outcome: str, seconds: float, **_: Any) -> None:
    DELIVERIES.labels(outcome).inc()
    DELIVERY_LATENCY.observe(seconds)


def _usage_deducted(lag_seconds: Sequence[float], **_: Any) -> None:
    for seconds in lag_seconds:
        DEDUCTION_LAG.observe(seconds)


def subscribe(observer: Observer) -> None:
    observer.subscribe("entries_written", _entries_written)
    observer.subscribe("webhook_attempted", _webhook_attempted)
    observer.subscribe("usage_deducted", _usage_deducted)


def exposition(backlog: BacklogGauges | None = None) -> bytes:
    """The Prometheus text exposition of this process, or of every worker (multiprocess),
    and the backlog gauges when given."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = bytes(generate_latest(registry))
    else:
        body = bytes(generate_latest())
    return body if backlog is None else body + backlog.exposition()


class BacklogGauges(Collector):
    """The outbox and undeducted usage as gauges, read from the database when scraped and
    kept `CACHE_SECONDS` (an unauthenticated `/metrics` must not be a way to load the
    database). A failed read leaves the gauges out of that scrape and logs why."""

    CACHE_SECONDS = 5.0

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._read_at = -self.CACHE_SECONDS
        self._body = b""

    def exposition(self) -> bytes:
        with self._lock:
            if time.monotonic() - self._read_at >= self.CACHE_SECONDS:
                registry = CollectorRegistry(auto_describe=False)
                registry.register(self)
                self._body = bytes(generate_latest(registry))
                self._read_at = time.monotonic()
            return self._body

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            backlog = read_backlog(self.ctx)
        except Exception:  # the database may be away; /ready says so, /metrics still answers
            logging.getLogger("drawdown").warning("could not read the backlog", exc_info=True)
            return []
        return _backlog_families(backlog, self.ctx.now().timestamp())


def _backlog_families(backlog: Backlog, now: float) -> list[GaugeMetricFamily]:
    def age(at: Any) -> float:
        return 0.0 if at is None else max(0.0, now - at.timestamp())

    return [
        GaugeMetricFamily("drawdown_webhook_outbox_depth", "Webhook deliveries pending "
                          "(due now or waiting for a retry)", value=backlog.outbox_pending),
        GaugeMetricFamily("drawdown_webhook_outbox_oldest_age_seconds", "Age of the oldest "
                          "pending webhook delivery (0 when none)",
                          value=age(backlog.outbox_oldest_at)),
        GaugeMetricFamily("drawdown_usage_events_pending", "Usage events accepted and not "
                          "yet deducted (live customers)", value=backlog.usage_pending),
        GaugeMetricFamily("drawdown_usage_oldest_pending_age_seconds", "Seconds since the "
                          "timestamp of the oldest undeducted usage event (0 when none)",
                          value=age(backlog.usage_oldest_at)),
    ]  # fmt: skip


# --- logging setup --------------------------------------------------------------------

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created)


def _utc(created: float) -> str:
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((created - seconds) * 1000):03d}Z"
    )


def configure_logging(settings: Settings) -> None:
    """Send drawdown's logs (and uvicorn's errors) to stderr at `DRAWDOWN_LOG_LEVEL`, as
    text or JSON lines (`DRAWDOWN_LOG_FORMAT`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    level = getattr(logging, settings.log_level.upper())
    for name in ("drawdown", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    global _fast_access_log
    _fast_access_log = FastAccessLog(sys.stderr, settings.log_format == "json")
