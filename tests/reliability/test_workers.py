"""`serve --workers N` (issue 11, finding 6) and 64 writers over 2 processes.

* A worker killed with SIGKILL is replaced and the port keeps answering; a server whose
  workers keep dying right after they start exits non-zero, so a supervisor notices.
* 64 concurrent writers over 2 worker processes, decrements spread over customers and on
  one hot customer: 0 lost, 0 duplicated, 0 5xx, dense sequence numbers, verify clean.
  CI: 640 decrements per database. `DRAWDOWN_LONG=1`: 5,000 spread + 5,000 hot.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from conftest import BACKENDS
from reliability.rel_support import Served, dense, scale, verify_clean, workers_of


def wait_for(condition: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_dead_worker_is_replaced_and_a_crash_loop_exits_non_zero(
    database_factory: object,
) -> None:
    served = Served(database_factory("sqlite"), workers=2)  # type: ignore[operator]
    served.start()
    assert served.process is not None
    parent = served.process.pid
    try:
        # Up means one worker answers; both have started once the parent says "listening"
        # (a worker killed before that is a failed start, and the parent exits).
        wait_for(lambda: "listening on" in served.output_text())
        wait_for(lambda: len(workers_of(parent)) == 2)
        first, second = workers_of(parent)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(workers_of(parent)) == 2 and first not in workers_of(parent))
        replacement = next(p for p in workers_of(parent) if p != second)
        served.wait_until_up()
        with served.client() as http:
            for _ in range(20):  # every connection is served, by either worker
                assert http.get("/ping").status_code == 200
        assert served.process.poll() is None
        # Now every worker dies as soon as it appears: the parent must give up, non-zero.
        deadline = time.monotonic() + 120
        while served.process.poll() is None and time.monotonic() < deadline:
            for pid in workers_of(parent):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        assert served.process.poll() is not None, "the parent kept going"
        assert served.process.returncode != 0
        assert "keep exiting" in served.output_text()
        assert replacement
    finally:
        served.stop()


def _decrement(http: httpx.Client, customer: str) -> tuple[int, str]:
    key = uuid.uuid4().hex
    response = http.post(f"/customers/{customer}/credits/ledger_entry",
                         json={"entry_type": "decrement", "amount": 1, "description": key},
                         headers={"Idempotency-Key": key})  # fmt: skip
    return response.status_code, key


@pytest.mark.parametrize("backend", BACKENDS)
def test_64_writers_over_2_processes(backend: str, database_factory: object) -> None:
    url = database_factory(backend)  # type: ignore[operator]
    served = Served(url, workers=2)
    served.start()
    per_phase = scale(320, 5000)
    try:
        with served.client() as http:
            customers = [http.post("/customers", json={"name": "W", "email": "w@example.com"})
                         .json()["id"] for _ in range(16)]  # fmt: skip
        hot = customers[0]
        plan = [customers[i % len(customers)] for i in range(per_phase)] + [hot] * per_phase
        clients = [served.client(timeout=120) for _ in range(64)]
        started = time.monotonic()
        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(lambda i: _decrement(clients[i % 64], plan[i]),
                                    range(len(plan))))  # fmt: skip
        seconds = time.monotonic() - started
        for client in clients:
            client.close()
    finally:
        served.stop()
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: len(plan)}, statuses
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT customer_id, seq, description FROM ledger_entries")).all()
    engine.dispose()
    per_key = Counter(r.description for r in rows)
    assert all(per_key[key] == 1 for _, key in results), "lost or duplicated"
    assert len(rows) == len(plan)
    by_customer: dict[str, list[int]] = {}
    for customer_id, seq, _ in rows:
        by_customer.setdefault(customer_id, []).append(seq)
    assert all(dense(seqs) for seqs in by_customer.values())
    assert len(by_customer[hot]) == plan.count(hot)  # its share of the spread, then all hot
    report = verify_clean(url)
    print(f"\nwriters[{backend}]: 64 writers, 2 processes, {len(plan)} decrements "
          f"({per_phase} spread, {per_phase} hot) in {seconds:.1f} s: 0 lost, 0 duplicated, "
          f"0 5xx, sequences dense, verify: {report.entries} entries clean")  # fmt: skip
