"""`drawdown items|metrics|prices …`: the catalogue from the command line, through the same
use cases as the API (a metric in the SQL subset, a price of it, a legacy price whose metric
is made for it, archiving), and refusals as one line naming the field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow


def _failing(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", *args],
        env={**os.environ, "DRAWDOWN_DATABASE_URL": url}, cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    return result.stderr.strip()


def test_the_catalogue_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drawdown.db'}"
    run_cli(url, "items", "add", "chat", "--name", "Chat tokens")
    sql = "SELECT SUM(tokens) FROM events WHERE event_name = 'chat' AND region = 'eu'"
    added = run_cli(url, "metrics", "add", "--item", "chat", "--name", "EU tokens", "--sql", sql)
    assert "chat sum:tokens where region = 'eu' for chat" in added
    metric_id = added.split()[2].rstrip(":")
    assert f"{metric_id}  active  chat  EU tokens  {sql}" in run_cli(url, "metrics", "list")
    priced = run_cli(url, "prices", "add", "--item", "chat", "--billable-metric", metric_id,
                     "--credits-per-unit", "0.01")  # fmt: skip
    assert "chat sum:tokens → 0.01 credits/unit for chat" in priced
    run_cli(url, "prices", "add", "--item", "chat", "--event-name", "chat", "--metric", "count",
            "--credits-per-unit", "1")  # fmt: skip
    run_cli(url, "prices", "add", "--item", "chat", "--event-name", "chat", "--metric", "count",
            "--credits-per-unit", "2", "--effective-from", "2999-01-01T00:00:00Z")  # fmt: skip
    listed = run_cli(url, "prices", "list").splitlines()
    assert any("sum:tokens where region = 'eu'  0.01 credits/unit" in line for line in listed)
    assert any("count  1 credits/unit" in line and "until 2999-01-01T00:00:00Z" in line
               for line in listed)  # fmt: skip
    assert "count  2 credits/unit  from 2999-01-01T00:00:00Z" in "\n".join(listed)
    assert "archived item chat" in run_cli(url, "items", "archive", "chat")
    assert "archived " in run_cli(url, "items", "list")
    assert all("until" in line for line in run_cli(url, "prices", "list").splitlines())


def test_refusals_name_the_field(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drawdown.db'}"
    run_cli(url, "items", "add", "chat", "--name", "Chat")
    error = _failing(url, "metrics", "add", "--item", "chat", "--name", "m", "--sql",
                     "SELECT AVG(x) FROM events WHERE event_name = 'chat'")  # fmt: skip
    assert error.startswith("error: sql: expected COUNT(*) or SUM(<property>)")
    assert _failing(url, "prices", "add", "--item", "chat", "--credits-per-unit", "1") == (
        "error: give --event-name and --metric, or --billable-metric")  # fmt: skip
    error = _failing(url, "prices", "add", "--item", "chat", "--billable-metric", "nope",
                     "--credits-per-unit", "1")  # fmt: skip
    assert error.startswith("error: ") and "BillableMetric" in error and "nope" in error
    assert run_cli(url, "prices", "list") == "" and run_cli(url, "metrics", "list") == ""
