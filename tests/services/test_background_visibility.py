"""Background work an operator can see (issue 21), in-process with an injected clock on
SQLite and PostgreSQL: every failed webhook attempt and every delivery given up is a log
line (endpoint, URL without credentials, error, attempt n of max, next retry) and a count;
a deduction moves the lag histogram and the pending gauge; late usage is a warning, once a
minute; an expiry sweep says how many expiries it wrote; URLs never show their secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from drawdown.api.schemas.webhooks import event_body
from drawdown.services import balance_alerts, customers, telemetry
from drawdown.services.backlog import read_backlog
from drawdown.services.context import ServiceContext
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.usage import deduct, ingest
from drawdown.services.webhooks import endpoints
from drawdown.services.webhooks.delivery import Deliverer, Response
from drawdown.services.webhooks.redact import safe_url, scrub
from drawdown.services.write_path import CustomerRef
from support.contexts import make_context

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hook?token=s3cr3t-token&v=2"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Lines(logging.Handler):
    """The records of the `drawdown` loggers (which do not propagate once logging is set up)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def of(self, level: int, start: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno == level and r.getMessage().startswith(start)]


@pytest.fixture
def lines() -> Iterator[Lines]:
    logger, handler = logging.getLogger("drawdown"), Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[tuple[Any, Clock]]:
    clock = Clock()
    ctx = make_context(database_factory(request.param), clock, usage_grace_seconds=3600,
                       webhook_attempts_max=2, webhook_retry_base_seconds=10)  # fmt: skip
    yield ctx, clock
    ctx.keys.stop()
    ctx.db.close()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _customer(ctx: ServiceContext, external_id: str = "acme") -> str:
    made = customers.create_customer({"name": "A", "email": "a@example.com",
                                      "external_customer_id": external_id}).run(ctx)  # fmt: skip
    return str(made.id)


# --- webhooks ----------------------------------------------------------------------------------


def refused(url: str, headers: dict[str, str], body: bytes, timeout: float) -> Response:
    return Response(None, "URLError: <urlopen error [Errno 111] Connection refused>")


def test_a_failing_delivery_is_a_warning_then_an_error_and_counted(
    env: tuple[Any, Clock], lines: Lines
) -> None:
    ctx, clock = env
    endpoint = endpoints.add_endpoint(ctx, HOOK, None, []).endpoint
    customer_id = _customer(ctx)
    balance_alerts.create_alert(CustomerRef(id=customer_id), balance_alerts.NewAlert(
        "credits", "credit_balance_depleted")).run(ctx)  # fmt: skip
    entries.create_entry(CustomerRef(id=customer_id), entry_request(
        {"entry_type": "decrement", "amount": Decimal(1)})).run(ctx)  # fmt: skip
    before = {o: sample("drawdown_webhook_deliveries_total", outcome=o) for o in ("failed", "dead")}
    latency = sample("drawdown_webhook_delivery_duration_seconds_count")
    deliverer = Deliverer(ctx, event_body, send=refused)
    assert deliverer.run_once() == 1
    [failed] = lines.of(logging.WARNING, "webhook delivery failed")
    text = failed.getMessage()
    assert f"endpoint {endpoint.id} (http://127.0.0.1:9/hook?token=***&v=***)" in text
    assert "Connection refused" in text and "attempt 1 of 2" in text
    assert "next retry at 2026-03-01T12:00:10Z (in 10s)" in text
    assert "s3cr3t" not in text and failed.next_attempt_at == "2026-03-01T12:00:10Z"  # type: ignore[attr-defined]
    assert sample("drawdown_webhook_deliveries_total", outcome="failed") == before["failed"] + 1
    assert read_backlog(ctx).outbox_pending == 1
    health = endpoints.endpoint_health(ctx, endpoint.id)
    assert health.pending == 1 and health.next_attempt_at == T0 + timedelta(seconds=10)
    assert health.last_failure is not None and health.last_delivered_at is None
    assert endpoints.failure_text(health.last_failure).endswith("Connection refused>")

    clock.now += timedelta(seconds=10)
    assert deliverer.run_once() == 1
    [dead] = lines.of(logging.ERROR, "webhook delivery given up")
    assert endpoint.id in dead.getMessage() and "attempt 2 of 2 was the last" in dead.getMessage()
    assert "drawdown webhooks replay" in dead.getMessage() and "s3cr3t" not in dead.getMessage()
    assert sample("drawdown_webhook_deliveries_total", outcome="dead") == before["dead"] + 1
    assert sample("drawdown_webhook_delivery_duration_seconds_count") == latency + 2
    assert read_backlog(ctx).outbox_pending == 0
    assert endpoints.endpoint_health(ctx, endpoint.id).next_attempt_at is None


def test_a_url_shows_where_it_goes_never_its_credentials() -> None:
    url = "https://hook:pa55word@example.com:8443/in/drawdown?token=abc123&plain#frag"
    assert safe_url(url) == "https://example.com:8443/in/drawdown?token=***&plain"
    assert safe_url("http://[::1]:9/x") == "http://[::1]:9/x"
    message = f"InvalidURL: nonnumeric port: 'pa55word@example.com:8443' for {url}"
    scrubbed = scrub(message, url)
    assert "pa55word" not in scrubbed and "abc123" not in scrubbed
    assert scrubbed.endswith("for https://example.com:8443/in/drawdown?token=***&plain")


# --- usage ---------------------------------------------------------------------------------------


def _usage(ctx: ServiceContext, count: int, at: datetime) -> None:
    batch = [{"idempotency_key": f"e{n}", "event_name": "api_call", "timestamp": at.isoformat(),
              "properties": {}, "external_customer_id": "acme"} for n in range(count)]  # fmt: skip
    assert isinstance(ingest.ingest(ctx, batch), ingest.Ingested)


def test_a_deduction_moves_the_lag_histogram_and_the_pending_gauge(
    env: tuple[Any, Clock], lines: Lines
) -> None:
    ctx, clock = env
    _customer(ctx)
    _usage(ctx, 3, T0 - timedelta(minutes=1))  # accepted at T0, a minute after it happened
    gauges = telemetry.BacklogGauges(ctx)
    assert b"drawdown_usage_events_pending 3.0" in gauges.exposition()
    assert b"drawdown_usage_oldest_pending_age_seconds 60.0" in gauges.exposition()
    count = sample("drawdown_usage_deduction_lag_seconds_count")
    total = sample("drawdown_usage_deduction_lag_seconds_sum")
    within = sample("drawdown_usage_deduction_lag_seconds_bucket", le="3600.0")
    clock.now = T0 + timedelta(minutes=59, seconds=30)  # due: an hour after it happened
    assert sum(d.events for d in deduct.deduct_due(ctx)) == 3
    assert sample("drawdown_usage_deduction_lag_seconds_count") == count + 3
    assert sample("drawdown_usage_deduction_lag_seconds_sum") == total + 3 * 3570
    assert sample("drawdown_usage_deduction_lag_seconds_bucket", le="3600.0") == within + 3
    assert read_backlog(ctx).usage_pending == 0
    assert b"drawdown_usage_events_pending 0.0" in telemetry.BacklogGauges(ctx).exposition()
    [debug] = lines.of(logging.DEBUG, "usage deducted")
    assert "3 event(s)" in debug.getMessage() and "lag up to 3570.0s" in debug.getMessage()


def test_usage_late_past_its_grace_and_the_margin_is_a_warning_once_a_minute(
    env: tuple[Any, Clock], lines: Lines
) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _usage(ctx, 2, T0)
    deducter = deduct.Deducter(ctx)  # not started: nothing deducts, as when deduction fails
    margin = ctx.settings.usage_late_warning_seconds
    clock.now = T0 + timedelta(seconds=3600 + margin)
    assert deducter.warn_if_late() is False
    clock.now += timedelta(seconds=1)
    assert deducter.warn_if_late() is True and deducter.warn_if_late() is True
    [late] = lines.of(logging.WARNING, "usage is late")
    assert "2 event(s) wait to be deducted" in late.getMessage()
    assert customer_id in late.getMessage() and f"fell due {margin + 1}s ago" in late.getMessage()
    deduct.deduct_due(ctx)
    assert deducter.warn_if_late() is False


# --- expiries ------------------------------------------------------------------------------------


def test_an_expiry_sweep_says_how_many_it_wrote(env: tuple[Any, Clock], lines: Lines) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    expiry = (T0 + timedelta(days=1)).isoformat()
    for amount in (5, 7):
        fields = entry_request({"entry_type": "increment", "amount": Decimal(amount),
                                "expiry_date": expiry})  # fmt: skip
        entries.create_entry(CustomerRef(id=customer_id), fields).run(ctx)
    written = sample("drawdown_expiries_written_total")
    clock.now += timedelta(days=2)
    assert reads.sweep_expiries(ctx) == 1
    [info] = lines.of(logging.INFO, "expiry sweep")
    assert (
        info.getMessage() == "expiry sweep: wrote 2 credit_block_expiry entries for 1 customer(s)"
    )
    assert sample("drawdown_expiries_written_total") == written + 2
    assert reads.sweep_expiries(ctx) == 0
    assert len(lines.of(logging.INFO, "expiry sweep")) == 1  # nothing written: debug only
    assert lines.of(logging.DEBUG, "expiry sweep: wrote 0")
