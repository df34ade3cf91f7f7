"""Logs and metrics of a running drawdown: the access log, Prometheus metrics, log setup.

Requests are the hot path (issue 10), so what runs per request is small: a histogram and a
counter child looked up in a dict (`prometheus-client`'s `.labels()` takes a lock and
builds a tuple), and the access log line only when the `drawdown.access` logger is enabled
for INFO, decided once at start (`DRAWDOWN_LOG_LEVEL=warning` turns it off). The line
never holds the API key, a query string or a body.

Several server processes (`serve --workers N`): the supervisor sets
`PROMETHEUS_MULTIPROC_DIR` for its workers before they start, so each records into shared
files and `/metrics`, whichever worker answers it, reports the sum over all of them
(prometheus-client's multiprocess mode). One process keeps its metrics in memory.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from drawdown.ledger.model import Entry
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

access_log = logging.getLogger("drawdown.access")


class RequestMetrics:
    """What the composition root's front records per request, kept cheap."""

    def __init__(self) -> None:
        self._latency: dict[tuple[str, str], Any] = {}
        self._count: dict[tuple[str, str, int], Any] = {}
        self.access_log = access_log.isEnabledFor(logging.INFO)

    def record(
        self, method: str, route: str, path: str, status: int, seconds: float, request_id: str
    ) -> None:
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
        if self.access_log:
            access_log.info(
                "%s %s %d %.1fms request_id=%s", method, path, status, seconds * 1000,
                request_id,
                extra={"method": method, "path": path, "status": status,
                       "duration_ms": round(seconds * 1000, 3), "request_id": request_id},
            )  # fmt: skip

    def reconfigure(self) -> None:
        """Re-read whether the access log is on (after logging was configured)."""
        self.access_log = access_log.isEnabledFor(logging.INFO)


def database_error(kind: str) -> None:
    DATABASE_ERRORS.labels(kind).inc()


def batch_committed(size: int) -> None:
    BATCHES.observe(size)


def _entries_written(entries: Iterable[Entry], **_: Any) -> None:
    for entry in entries:
        ENTRIES.labels(entry.entry_type).inc()


def subscribe(observer: Observer) -> None:
    observer.subscribe("entries_written", _entries_written)


def exposition() -> bytes:
    """The Prometheus text exposition of this process, or of every worker (multiprocess)."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))
    return bytes(generate_latest())


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
