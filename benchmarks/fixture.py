"""What a run seeds before it starts any server, the same in every database it names.

Every database: `customers` funded customers (decrements are spread over them), a hot
customer and a read customer with `small_entries` entries each. The `main` databases also
get, when a selected row needs them, the big ledger (`big_entries` entries) and two
customers of many open blocks (10, and `blocks`). Lua scripts read the customer ids from
files in the run's scratch directory.
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import seed, seed_blocks
from benchmarks.model import PAGE, Run, count, progress
from benchmarks.rows import BY_NAME
from drawdown.store.database import Database

FEW_BLOCKS = 10  # the `decrement-blocks-10` customer
INGEST_CUSTOMERS = 50  # the `ingest-500` and usage rows' customers: the first of `spread`
BLOCK_ROWS = ("decrement-blocks-*", "decrement-spread-beside-*")


@dataclass
class Fixture:
    """What was seeded and the files the Lua scripts read (`files[audience]`)."""

    spread: list[str]
    hot: str
    small: seed.Seeded
    big: seed.Seeded | None
    files: dict[str, Path]
    seconds: float = 0.0


def seed_run(run: Run, urls: dict[tuple[str, str], str]) -> Fixture:
    """Seed every database of `urls` ((database, server) -> URL); the big ledger and the
    block customers only into the `main` servers' databases."""
    o = run.options
    mains = [where for where in urls if where[1] == "main"]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        dbs = {where: stack.enter_context(seed.opened(url)) for where, url in urls.items()}
        everywhere, main_dbs = list(dbs.values()), [dbs[w] for w in mains]
        now = datetime.now(UTC)
        origin = now - timedelta(milliseconds=o.big_entries + o.small_entries + 60_000)
        ids = seed.create_customers(everywhere, o.customers + 3, origin)
        spread, (hot, small_id, big_id) = ids[: o.customers], ids[o.customers :]
        progress(f"seeding {o.customers:,} funded customers and two {count(o.small_entries)} "
                 f"ledgers into {len(dbs)} database(s)")  # fmt: skip
        seed.fund_customers(everywhere, spread, origin)
        _ledger(everywhere, hot, o.small_entries, now)
        small = _ledger(everywhere, small_id, o.small_entries, now)
        big = blocks = None
        if any("{big}" in BY_NAME[name].label for name in o.selected) and main_dbs:
            progress(f"seeding a {count(o.big_entries)}-entry ledger into "
                     f"{', '.join(db for db, _ in mains)}")  # fmt: skip
            big = _ledger(main_dbs, big_id, o.big_entries, now)
        if any(fnmatch.filter(o.selected, pattern) for pattern in BLOCK_ROWS) and main_dbs:
            progress(f"seeding customers of {FEW_BLOCKS} and {o.blocks:,} open blocks")
            blocks = _block_customers(main_dbs, o.blocks, now)
        for db in everywhere:
            seed.analyze(db)
    seconds = time.perf_counter() - started
    run.notes.append(f"seeding (all databases, through the store) took {seconds:.0f} s")
    progress(f"seeded in {seconds:.1f} s")
    lists = {"spread": spread, "ingest": spread[:INGEST_CUSTOMERS], "hot": [hot],
             "big": [big_id], **(blocks or {})}  # fmt: skip
    files = _write_lists(run.scratch, lists)
    return Fixture(spread, hot, small, big, files, seconds)


def _ledger(dbs: list[Database], customer_id: str, entries: int, now: datetime) -> seed.Seeded:
    """A ledger whose entries are 1 ms apart, the newest a moment before `now`."""
    return seed.seed_ledger(dbs, customer_id, entries, _every_ms(entries, now),
                            remember=(entries // 2, PAGE + 1))  # fmt: skip


def _block_customers(dbs: list[Database], blocks: int, now: datetime) -> dict[str, list[str]]:
    """A customer of `FEW_BLOCKS` and one of `blocks` open blocks; the audiences naming them."""
    few, many = seed.create_customers(dbs, 2, now - timedelta(hours=1), prefix="blocks")
    for customer_id, size in ((few, FEW_BLOCKS), (many, blocks)):
        seed_blocks.seed_blocks(dbs, customer_id, size, _every_ms(size, now))
    return {"blocks-10": [few], "blocks-10k": [many]}


def _every_ms(commands: int, now: datetime) -> seed.Instant:
    """Commands 1 ms apart, the last a second before `now`."""
    origin = now - timedelta(milliseconds=commands + 1_000)
    return lambda position: origin + timedelta(milliseconds=position)


def _write_lists(scratch: Path, lists: dict[str, list[str]]) -> dict[str, Path]:
    files = {}
    for audience, ids in lists.items():
        files[audience] = scratch / f"{audience}.txt"
        files[audience].write_text("\n".join(ids) + "\n")
    files["amend"] = scratch / "amend.txt"  # written by the `usage-amend` row
    return files
