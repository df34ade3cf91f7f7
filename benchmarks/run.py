"""Benchmarks of drawdown's hot paths; prints a table and a ratio against a baseline.

Run: `uv run python benchmarks/run.py [--postgres URL] [--requests N]`

Each backend gets a real `drawdown serve` process and is driven over HTTP. The baseline,
measured in the same run against the same process, is `GET /v1/ping` (authentication plus
framework overhead, no customer data), so the ratios say how much each operation costs on
top of simply answering an authenticated request. The pure ledger core is also timed in
process, against a baseline of building its input state.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import start_server, stop_server  # noqa: E402


@dataclass
class Result:
    backend: str
    operation: str
    count: int
    seconds: float
    baseline_rate: float | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def row(self) -> str:
        ratio = f"{self.rate / self.baseline_rate:.2f}" if self.baseline_rate else "1.00"
        return (
            f"| {self.backend} | {self.operation} | {self.count} | {self.seconds:.2f} | "
            f"{self.rate:,.0f} | {ratio} |"
        )


def timed(count: int, threads: int, work: Callable[[int], None]) -> float:
    start = time.perf_counter()
    if threads == 1:
        for i in range(count):
            work(i)
    else:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(count)))
    return time.perf_counter() - start


def bench_backend(backend: str, url: str, requests: int, workers: int = 1) -> list[Result]:
    server = start_server(url, env={"DRAWDOWN_WORKERS": str(workers)})
    label = backend if workers == 1 else f"{backend}, {workers} workers"
    try:
        return _bench_server(label, server, requests)
    finally:
        stop_server(server)


def _bench_server(backend: str, server, requests: int) -> list[Result]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    http = httpx.Client(
        base_url=server.base_url,
        headers=headers,
        timeout=60,
        limits=httpx.Limits(max_connections=32),
    )
    customers = [
        http.post("/customers", json={"name": f"B{i}", "email": "b@example.com"}).json()["id"]
        for i in range(8)
    ]
    for cid in customers:
        for _ in range(20):  # a realistic handful of blocks per ledger
            http.post(
                f"/customers/{cid}/credits/ledger_entry",
                json={
                    "entry_type": "increment",
                    "amount": 10_000,
                    "expiry_date": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                },
            )

    def ping(_: int) -> None:
        assert http.get("/ping").status_code == 200

    def decrement_one_customer(_: int) -> None:
        r = http.post(
            f"/customers/{customers[0]}/credits/ledger_entry",
            json={"entry_type": "decrement", "amount": 1},
        )
        assert r.status_code == 201, r.text

    def decrement_many(i: int) -> None:
        r = http.post(
            f"/customers/{customers[i % 8]}/credits/ledger_entry",
            json={"entry_type": "decrement", "amount": 1},
        )
        assert r.status_code == 201, r.text

    def list_ledger(_: int) -> None:
        assert http.get(f"/customers/{customers[0]}/credits/ledger?limit=100").status_code == 200

    def balance(_: int) -> None:
        assert http.get(f"/customers/{customers[1]}/credits").status_code == 200

    timed(requests, 8, ping)  # warm-up: every worker process has booted and connected
    base = Result(backend, "GET /ping (baseline)", requests, timed(requests, 8, ping))
    results = [base]
    for name, threads, work in (
        ("decrement, 1 customer, 8 threads", 8, decrement_one_customer),
        ("decrement, 8 customers, 8 threads", 8, decrement_many),
        ("list ledger (100 entries)", 8, list_ledger),
        ("list blocks (balance)", 8, balance),
    ):
        results.append(Result(backend, name, requests, timed(requests, threads, work), base.rate))
    http.close()
    return results


def bench_core(count: int) -> list[Result]:
    from drawdown import ledger
    from drawdown.ledger import commands

    now = datetime.now(UTC)
    ids = iter(range(10**9))

    def new_id() -> str:
        return f"id{next(ids)}"

    def state_with_blocks():
        state = ledger.LedgerState("credits", {}, 0, Decimal(0), None)
        for i in range(100):
            inc = commands.Increment(
                block_id=new_id(),
                entry_id=new_id(),
                amount=Decimal(100),
                effective_date=now,
                expiry_date=now + timedelta(days=i + 1),
                per_unit_cost_basis=None,
                filters=(),
                metadata={},
                description=None,
                status="active",
                source="manual",
                invoice_id=None,
                top_up_id=None,
            )
            state = ledger.apply(state, inc, now, new_id).state
        return state

    build = timed(20, 1, lambda _: state_with_blocks())
    base = Result("in-process", "build 100-block state (baseline)", 20, build)
    state = state_with_blocks()
    decrement = commands.Decrement(amount=Decimal(150), description=None, metadata={})
    core = timed(count, 1, lambda _: ledger.apply(state, decrement, now, new_id))
    return [base, Result("in-process", "core: decrement over 100 blocks", count, core, base.rate)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("DRAWDOWN_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    results = bench_core(2000)
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            results += bench_backend("sqlite", url, args.requests, workers)
        if args.postgres:
            results += _bench_postgres(args.postgres, args.requests, workers)
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print("| backend | operation | n | seconds | per second | ratio to baseline |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


def _bench_postgres(admin_url: str, requests: int, workers: int) -> list[Result]:
    from support.postgres import create_database, drop_database

    url = create_database(admin_url, f"bench_{os.getpid()}_{workers}")
    try:
        return bench_backend("postgres", url, requests, workers)
    finally:
        drop_database(admin_url, url)


if __name__ == "__main__":
    main()
