"""A failing webhook endpoint as an operator sees it (issue 21): pointed at a closed port, a
real server (two workers, SQLite and PostgreSQL) has, within one retry, logged a line naming
the endpoint and the error, `/metrics` counts the failed delivery and shows the outbox depth
(once, whichever worker answers), and `drawdown webhooks list` shows the last error and the
same next retry as the log. The URL's token is never shown. (Giving up is an error line:
tests/services/test_background_visibility.py, with an injected clock.)"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import BACKENDS, free_port, run_cli, stop_server
from test_operations import _metric, root, start_logged_server

pytestmark = pytest.mark.slow

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# The retry comes after the checks even on a busy machine (starting a CLI can take seconds).
SETTINGS = {
    "DRAWDOWN_WEBHOOK_POLL_SECONDS": "0.1",
    "DRAWDOWN_WEBHOOK_RETRY_BASE_SECONDS": "120",
    "DRAWDOWN_WEBHOOK_ATTEMPTS_MAX": "3",
    "DRAWDOWN_LOG_LEVEL": "info",
}


def _wait_for_line(log: Path, start: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in log.read_text().splitlines() if start in line]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {start!r} line in the log:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_endpoint_is_visible_within_one_retry(
    backend: str, database_factory: Any, tmp_path: Path
) -> None:
    url, log, closed = database_factory(backend), tmp_path / "log", free_port()
    hook = f"http://127.0.0.1:{closed}/hook?token=s3cr3t-token"
    endpoint_id = run_cli(url, "webhooks", "add", hook, "--secret", SECRET).split()[2]
    srv = start_logged_server(url, log, SETTINGS, "--workers", "2")
    try:
        client = srv.client()
        customer = client.customers.create(name="Hooked", email="h@example.com")
        client.alerts.create_for_customer(customer.id, currency="credits",
                                          type="credit_balance_depleted")  # fmt: skip
        client.customers.credits.ledger.create_entry(customer.id, entry_type="decrement",
                                                     amount=1)  # fmt: skip

        line = _wait_for_line(log, "webhook delivery failed")
        assert f"endpoint {endpoint_id} (http://127.0.0.1:{closed}/hook?token=***)" in line
        assert "Connection refused" in line and "attempt 1 of 3, next retry at " in line
        retry = line.split("next retry at ")[1].split()[0]

        metrics = httpx.get(root(srv) + "/metrics").text
        assert _metric(metrics, "drawdown_webhook_deliveries_total", outcome="failed") == 1
        assert _metric(metrics, "drawdown_webhook_deliveries_total", outcome="delivered") == 0
        assert _metric(metrics, "drawdown_webhook_delivery_duration_seconds_count") == 1
        depth = [m for m in metrics.splitlines() if m.startswith("drawdown_webhook_outbox_depth ")]
        assert depth == ["drawdown_webhook_outbox_depth 1.0"]
        assert 0 < _metric(metrics, "drawdown_webhook_outbox_oldest_age_seconds") < 120

        listed = run_cli(url, "webhooks", "list", env=SETTINGS)
        assert f"{endpoint_id}  http://127.0.0.1:{closed}/hook?token=***" in listed
        assert f"    pending 1, next attempt {retry}\n" in listed
        assert "    last error 20" in listed and "Connection refused" in listed
        assert f"attempts 1 of 3  next attempt {retry}  last error: URLError" in listed
    finally:
        stop_server(srv)
    assert "s3cr3t" not in log.read_text() and "s3cr3t" not in run_cli(url, "webhooks", "list")
