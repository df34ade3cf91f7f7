"""The benchmark seed writes exactly what the write path writes (benchmarks/seed.py).

Two fresh databases get the same customer and ledger, one through the use cases the API
calls (one job per request, on the committer) and one through the seed's bulk path, with
the same ids and the same clock; every row of every ledger table must be equal, so a
seeded ledger verifies, replays and pages like one written over HTTP.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from drawdown.services import customers
from drawdown.services.credits import entries
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store.engine import normalize_url
from support.contexts import make_context

# benchmarks/ is a top-level package of the repository, not part of the installed wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import seed, seed_blocks

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
ENTRIES = 45  # several chunks and transactions with the sizes patched below
BLOCKS = 23
TABLES = ("customers", "ledgers", "credit_blocks", "ledger_entries", "ledger_commands")


class Ids:
    """The same id sequence for both databases."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"id{self.count:014d}"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def instant(position: int) -> datetime:
    return START + timedelta(seconds=position, microseconds=position * 7)


def _write_through_use_cases(
    url: str, ledgers: int, entries_each: int, request: Callable[[int, int], dict[str, Any]]
) -> None:
    """`ledgers` customers, then each customer's ledger in turn, one request per entry."""
    clock = Clock()
    ctx = dataclasses.replace(make_context(url, clock), new_id=Ids())
    try:
        ids = [
            customers.create_customer({"name": f"bench {i}", "email": "bench@example.com"})
            .run(ctx)
            .id
            for i in range(ledgers)
        ]
        for customer_id in ids:
            for position in range(1, entries_each + 1):
                clock.now = instant(position)
                entries.create_entry(
                    CustomerRef(id=customer_id), entry_request(request(position, entries_each))
                ).run(ctx)
    finally:
        ctx.keys.stop()
        ctx.db.close()


def _request(position: int, entries_total: int) -> dict[str, Any]:
    if position == 1:
        return {"entry_type": "increment", "amount": int(seed.funding(entries_total))}
    return {"entry_type": "decrement", "amount": int(seed.decrement_amount(position))}


def _block_request(position: int, blocks_total: int) -> dict[str, Any]:
    expiry = seed_blocks.BlocksSeed("unused", blocks_total, instant).expiry(position)
    return {"entry_type": "increment", "amount": int(seed_blocks.BLOCK_CREDITS),
            "expiry_date": expiry.isoformat()}  # fmt: skip


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return {
                table: sorted(
                    tuple(map(repr, row)) for row in conn.execute(text(f"SELECT * FROM {table}"))
                )
                for table in TABLES
            }
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_seeded_ledger_equals_one_written_through_the_write_path(
    backend: str, database_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed, "CHUNK_COMMANDS", 7)
    monkeypatch.setattr(seed, "COMMANDS_PER_TRANSACTION", 20)
    through_api = database_factory(backend)
    _write_through_use_cases(through_api, 1, ENTRIES, _request)
    seeded_urls = [database_factory(backend), database_factory(backend)]
    for url in seeded_urls:
        make_context(url).db.close()  # migrated like a server's database
    ids = Ids()
    with seed.opened(seeded_urls[0]) as first, seed.opened(seeded_urls[1]) as second:
        [customer_id] = seed.create_customers([first, second], 1, START, new_id=ids)
        seeded = seed.seed_ledger(
            [first, second], customer_id, ENTRIES, instant, new_id=ids, remember=(1, 23)
        )
    expected = _rows(through_api)
    assert len(expected["ledger_entries"]) == ENTRIES
    assert _rows(seeded_urls[0]) == expected
    assert _rows(seeded_urls[1]) == expected
    assert sorted(seeded.keys) == [1, 23]
    assert seeded.keys[23] == seed.EntryKey(instant(23), 23, "id00000000000047")


def test_funded_customers_equal_customers_given_one_increment_each(
    database_factory: Any,
) -> None:
    through_api, seeded_url = database_factory("sqlite"), database_factory("sqlite")
    _write_through_use_cases(through_api, 3, 1, _request)
    make_context(seeded_url).db.close()
    ids = Ids()
    with seed.opened(seeded_url) as db:
        customer_ids = seed.create_customers([db], 3, START, new_id=ids)
        seed.fund_customers([db], customer_ids, instant(1), new_id=ids)
    assert _rows(seeded_url) == _rows(through_api)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_seeded_block_ledger_equals_one_written_through_the_write_path(
    backend: str, database_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Increments applied to a state without the ledger's blocks (as the write path applies
    them) give the same rows, the head's next expiry included."""
    monkeypatch.setattr(seed, "CHUNK_COMMANDS", 5)
    monkeypatch.setattr(seed, "COMMANDS_PER_TRANSACTION", 10)
    through_api, seeded_url = database_factory(backend), database_factory(backend)
    _write_through_use_cases(through_api, 1, BLOCKS, _block_request)
    make_context(seeded_url).db.close()
    ids = Ids()
    with seed.opened(seeded_url) as db:
        [customer_id] = seed.create_customers([db], 1, START, new_id=ids)
        seeded = seed_blocks.seed_blocks([db], customer_id, BLOCKS, instant, new_id=ids)
    expected = _rows(through_api)
    assert len(expected["credit_blocks"]) == BLOCKS
    assert _rows(seeded_url) == expected
    assert seeded.balance == seed_blocks.BLOCK_CREDITS * BLOCKS
