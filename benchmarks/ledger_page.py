"""A ledger page in process: µs per entry to read, render and encode 100 entries (issue 20).

`uv run --frozen python -m benchmarks.ledger_page [--postgres URL] [--seconds S]`

Two ledgers per database, each timed through the calls `GET …/credits/ledger` makes
(`reads.entry_page` with the process's entry templates, `schemas.ledger.page_json`,
`jsonio.dumps`), without HTTP:

- `decrements`: 1,000 entries as the benchmark seeder writes them (one increment, then
  single-block decrements: the common page);
- `mixed`: 120 entries written through the write path, every kind that has something to
  render: purchases (an increment with its invoice), grants, decrements with metadata and a
  description, amendments, voids, expiration changes, each pair on blocks of their own.

Stages: `read` (warm: every entry's template known), `render` and `encode` (of that read),
`total` (all three, warm) and `cold` (all three with no template known: a page read the
first time since the process started, or since its entries were rewritten). Each figure is
the median of repeated runs, so a busy machine's pauses fall out.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import seed, servers
from drawdown.api.jsonio import dumps
from drawdown.api.schemas.ledger import entry_template, page_json
from drawdown.app import build_context
from drawdown.services.access import api_keys
from drawdown.services.context import ServiceContext
from drawdown.services.credits import entries, reads
from drawdown.services.credits.memo import EntryMemo
from drawdown.services.customers import create_customer
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.settings import Settings

PAGE = 100
META = {"has_more": True, "next_cursor": "x"}


def _query() -> reads.EntryQuery:
    return reads.EntryQuery(currency=None, entry_type=None, entry_status=None,
                            minimum_amount=None, created_at=(), after=None,
                            limit=PAGE + 1)  # fmt: skip


def _median_us(seconds: float, step: Callable[[], object]) -> float:
    """The median duration of `step` in µs, over about `seconds` (at least 20 runs)."""
    step()  # warm: prepared statements, caches
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < 20 or time.perf_counter() < deadline:
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def _mixed(ctx: ServiceContext) -> CustomerRef:
    customer = create_customer({"name": "Mixed", "email": "m@example.com",
                                "currency": "USD"}).run(ctx)  # fmt: skip
    ref = CustomerRef(id=customer.id)

    def write(**body: Any) -> Any:
        return entries.create_entry(ref, entry_request(body)).run(ctx)

    for n in range(20):
        bought = write(entry_type="increment", amount=1000, per_unit_cost_basis="0.10",
                       expiry_date="2099-01-01", metadata={"po": f"PO-{n}"},
                       invoice_settings={"auto_collection": False, "net_terms": 30})  # fmt: skip
        granted = write(entry_type="increment", amount=500, description="grant",
                        metadata={"reason": "promo"})  # fmt: skip
        drawn = write(entry_type="decrement", amount=7, description="usage",
                      metadata={"request": f"r{n}"})  # fmt: skip
        write(entry_type="amendment", amount=2, block_id=drawn.block.id)
        write(entry_type="void", amount=3, block_id=bought.block.id, void_reason="refund")
        write(entry_type="expiration_change", amount=10, block_id=granted.block.id,
              target_expiry_date="2098-01-01")  # fmt: skip
    return ref


def _decrements(ctx: ServiceContext) -> CustomerRef:
    now = datetime.now(UTC)
    [customer_id] = seed.create_customers([ctx.db], 1, now - timedelta(hours=1))
    origin = now - timedelta(seconds=10)
    seed.seed_ledger([ctx.db], customer_id, 1000, lambda p: origin + timedelta(milliseconds=p))
    return CustomerRef(id=customer_id)


def measure(database_url: str, label: str, seconds: float) -> None:
    ctx = build_context(Settings(database_url=database_url))
    api_keys.start_cache(ctx, refresh=False)
    try:
        ledgers = {"decrements": _decrements(ctx), "mixed": _mixed(ctx)}
        seed.analyze(ctx.db)  # as autovacuum would have: PostgreSQL's plans need statistics
        for name, ledger in ledgers.items():
            memo = EntryMemo(entry_template, 10_000)
            page = reads.entry_page(ctx, ledger, _query(), memo)[:PAGE]
            assert len(page) == PAGE, len(page)
            body = page_json(page)

            def whole(memo: EntryMemo[Any], ledger: CustomerRef = ledger) -> bytes:
                found = reads.entry_page(ctx, ledger, _query(), memo)[:PAGE]
                return dumps({"data": page_json(found), "pagination_metadata": META})

            stages = {
                "read": lambda memo=memo, ledger=ledger: reads.entry_page(
                    ctx, ledger, _query(), memo
                ),
                "render": lambda page=page: page_json(page),
                "encode": lambda body=body: dumps({"data": body, "pagination_metadata": META}),
                "total": lambda memo=memo: whole(memo),
                "cold": lambda: whole(EntryMemo(entry_template, 10_000)),
            }
            for stage, step in stages.items():
                us = _median_us(seconds, step)
                print(
                    f"{label:10} {name:10} {stage:7} {us:9.0f} µs/page {us / PAGE:7.1f} µs/entry",
                    flush=True,
                )
    finally:
        ctx.keys.stop()
        ctx.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledger_page")
    parser.add_argument("--postgres", metavar="URL", help="also measure PostgreSQL (admin URL)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per stage [3]")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        databases = servers.Databases(Path(scratch), options.postgres)
        try:
            measure(databases.sqlite("page"), "sqlite", options.seconds)
            if options.postgres:
                measure(databases.postgres("page"), "postgresql", options.seconds)
        finally:
            databases.drop_all()


if __name__ == "__main__":
    main()
