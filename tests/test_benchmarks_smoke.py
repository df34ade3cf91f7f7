"""The benchmark harness runs end to end: every row measured, no errors (speed never asserted).

A seconds-long run of `python -m benchmarks` (the command behind `./scripts/bench`):
tiny ledgers (a 100-block customer), 1 s per row, one wrk connection per thread, SQLite
only, 1 process. It starts the real servers, seeds through the store, runs wrk with every
Lua script and renders the table, so a change that breaks the harness or a benchmarked
request fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmarks/ is a top-level package of the repository
from benchmarks import rows  # noqa: E402

pytestmark = pytest.mark.slow

SMOKE = ["--seconds", "1", "--entries", "2000", "--small-entries", "1000", "--customers",
         "50", "--blocks", "100", "--threads", "1", "--connections", "2", "--processes",
         "1"]  # fmt: skip


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, object]]]:
    if shutil.which("wrk") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is not installed (.ci/run installs it)")
        pytest.skip("wrk is not installed (apt-get install wrk)")
    out = tmp_path_factory.mktemp("bench") / "rows.json"
    env = {k: v for k, v in os.environ.items() if k != "DRAWDOWN_BENCH_POSTGRES_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *SMOKE, "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return done.stdout, json.loads(out.read_text())


def test_every_row_is_measured_without_errors(
    smoke: tuple[str, list[dict[str, object]]],
) -> None:
    _, measured = smoke
    expected = {(rows.IN_PROCESS, spec.name) for spec in rows.SPECS if spec.server
                in rows.GLOBAL_SERVERS}  # fmt: skip
    expected |= {(rows.SQLITE, spec.name) for spec in rows.database_rows([1])}
    assert {(row["db"], row["row"]) for row in measured} == expected
    for row in measured:
        assert row["problem"] is None and row["errors"] == 0, row
        assert isinstance(row["value"], float) and row["value"] > 0, row


def test_the_table_has_a_line_per_row(smoke: tuple[str, list[dict[str, object]]]) -> None:
    table, measured = smoke
    lines = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(lines) == len(measured)
    assert "| row | what | db |" in table
