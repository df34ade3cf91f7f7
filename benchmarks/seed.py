"""Seeding big ledgers quickly, through the store, exactly as the API would have written them.

A ledger of a million entries takes hours through HTTP. Here the pure core decides every
entry (`ledger.apply`: one increment, then single-block decrements, with the real hash
chain from `chain.genesis`), and the store's own statements write the outcome in bulk:
`store.ledger_tables.create_head`, then per chunk `store.ledger_tables.persist` (entries,
the block, the head) and `executemany` on the `ledger_commands` table for the command log.
Customers get the row `services.customers.create_customer` writes for a request that names
only a name and an email. tests/test_benchmarks_seed.py checks that a seeded ledger equals, row for
row, one written through the write path with the same ids and clock.

One computation can fill several databases (the SQLite and the PostgreSQL server of one run
get the same ledgers): each database has a writer thread, so its inserts (SQLite's B-tree
work, PostgreSQL's round trips) overlap the core deciding the next chunk.

Seeds write no idempotency records (like requests without an `Idempotency-Key`). On SQLite a
transaction holds the server's writer lock, so it never interleaves with a running server's
writes; the harness seeds before it starts one anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from drawdown import ledger
from drawdown.ledger import chain, commands
from drawdown.ledger.model import Block, Entry, LedgerState
from drawdown.records import LedgerHead
from drawdown.services.commands_codec import encode_command
from drawdown.services.ids import new_id as random_id
from drawdown.services.write_path import next_expiry
from drawdown.store import customers as customer_store
from drawdown.store import ledger_tables as ledger_store
from drawdown.store.database import Database
from drawdown.store.engine import StoreConfig, sqlite_lock_path
from drawdown.store.prepared import Prepared
from drawdown.store.schema import ledger_commands
from drawdown.store.tx import Tx

CURRENCY = "credits"  # the ledger a request without `currency` writes (R-CUR-2)
CHUNK_COMMANDS = 10_000  # commands decided, then written with one executemany per table
COMMANDS_PER_TRANSACTION = 100_000  # an interrupted seed leaves a shorter, valid ledger
SQLITE_SEED_CACHE_KIB = 256 * 1024  # the seeding connection's page cache: indexes stay hot

NewId = Callable[[], str]
Instant = Callable[[int], datetime]  # command position (1-based) -> when it was written

_INSERT_COMMAND = Prepared(lambda: insert(ledger_commands))


@dataclass(frozen=True)
class EntryKey:
    """What a cursor needs to point at an entry: its sort key (created_at, seq, id)."""

    created_at: datetime
    seq: int
    id: str


@dataclass
class Seeded:
    """A seeded ledger: its customer, size, balance and the keys of the entries asked for."""

    customer_id: str
    entries: int
    balance: Decimal = Decimal(0)
    keys: dict[int, EntryKey] = field(default_factory=dict)


# --- databases and transactions ---------------------------------------------------------


@contextlib.contextmanager
def opened(database_url: str) -> Iterator[Database]:
    """The store of an already migrated database, closed afterwards."""
    db = Database(StoreConfig(database_url))
    try:
        yield db
    finally:
        db.close()


@contextlib.contextmanager
def writing(db: Database) -> Iterator[Tx]:
    """One write transaction (BEGIN IMMEDIATE on SQLite, under the server's writer lock)."""
    with _writer_lock(db), db.engine.connect() as conn:
        conn.execution_options(drawdown_write=True)
        with conn.begin():
            tx = Tx(conn)
            if tx.dialect == "sqlite":
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_SEED_CACHE_KIB}")
            yield tx


@contextlib.contextmanager
def _writer_lock(db: Database) -> Iterator[None]:
    path = sqlite_lock_path(db.engine)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def analyze(db: Database) -> None:
    """PostgreSQL: gather planner statistics, as autovacuum would have long before a ledger
    grew to a million entries (measured: a first page at 100k entries took 377 ms right
    after the bulk load, 34 ms after ANALYZE). SQLite: nothing; drawdown never analyzes."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


# --- customers ----------------------------------------------------------------------------


def customer_values(customer_id: str, name: str, now: datetime) -> dict[str, Any]:
    """The row `create_customer` writes for `{"name": name, "email": ...}` (UTC default)."""
    return {
        "id": customer_id, "name": name, "email": "bench@example.com",
        "external_customer_id": None, "currency": None, "timezone": "UTC", "metadata": {},
        "auto_collection": False, "auto_issuance": None, "email_delivery": True,
        "additional_emails": [], "payment_provider": None, "payment_provider_id": None,
        "billing_address": None, "shipping_address": None, "tax_id": None, "created_at": now,
    }  # fmt: skip


def create_customers(
    dbs: Sequence[Database],
    count: int,
    now: datetime,
    *,
    prefix: str = "bench",
    new_id: NewId = random_id,
) -> list[str]:
    """`count` customers, the same ones in every database."""
    rows = [customer_values(new_id(), f"{prefix} {index}", now) for index in range(count)]
    for db in dbs:
        with writing(db) as tx:
            for row in rows:
                customer_store.insert(tx, row)
    return [row["id"] for row in rows]


# --- what the core decides ------------------------------------------------------------------


def decrement_amount(position: int) -> Decimal:
    """1 to 10 credits, cycling: every tenth decrement passes `minimum_amount=10`."""
    return Decimal(1 + position % 10)


def funding(entries: int) -> Decimal:
    """An increment that covers every later decrement (no deficit block, R-DED-4)."""
    return Decimal(10 * entries + 1_000_000_000)


@dataclass
class Chunk:
    """Consecutive commands of one ledger as the core decided them, ready to write."""

    customer_id: str
    first_position: int
    entries: list[Entry]
    blocks: list[tuple[Block, bool]]  # (block, already in the database)
    log: list[tuple[int, str, dict[str, Any], datetime]]  # (position, kind, payload, at)
    state: LedgerState
    head: LedgerHead
    now: datetime


class LedgerSeed:
    """One customer's `credits` ledger: an increment, then `entries - 1` decrements.

    Command `p` (1-based) is applied at `instant(p)`; ids come from `new_id` in the order the
    write path draws them (the increment's block, then its entry; each decrement's deficit
    block id, then its entry).
    """

    def __init__(self, customer_id: str, entries: int, instant: Instant, *,
                 new_id: NewId = random_id,
                 amount: Callable[[int], Decimal] = decrement_amount) -> None:  # fmt: skip
        assert entries >= 1
        self.customer_id, self.entries, self.instant = customer_id, entries, instant
        self.new_id, self.amount = new_id, amount
        self.state = LedgerState(CURRENCY, chain_head=chain.genesis(customer_id, CURRENCY))
        self.position = 0
        self._written: set[str] = set()  # blocks a previous chunk wrote
        # Decrements of one amount share one encoding (only the deficit block id differs).
        self._decrements: dict[Decimal, tuple[str, dict[str, Any]]] = {}

    @property
    def done(self) -> bool:
        return self.position >= self.entries

    def command(self, position: int) -> tuple[commands.Command, str, dict[str, Any]]:
        """The command at `position` and its command-log encoding (kind, payload)."""
        if position == 1:
            block_id, entry_id = self.new_id(), self.new_id()
            increment = commands.Increment(block_id=block_id, entry_id=entry_id,
                                           amount=funding(self.entries),
                                           effective_date=self.instant(1))  # fmt: skip
            return (increment, *encode_command(increment))
        # Each decrement draws its would-be deficit block's id first, as planning does.
        amount, deficit_block_id = self.amount(position), self.new_id()
        decrement = commands.Decrement(amount=amount, deficit_block_id=deficit_block_id)
        found = self._decrements.get(amount)
        if found is None:
            found = self._decrements[amount] = encode_command(decrement)
        kind, payload = found
        return decrement, kind, {**payload, "deficit_block_id": deficit_block_id}

    def next_chunk(self, size: int) -> Chunk:
        first = self.position + 1
        entries: list[Entry] = []
        touched: dict[str, Block] = {}
        log: list[tuple[int, str, dict[str, Any], datetime]] = []
        for position in range(first, min(self.entries, self.position + size) + 1):
            at, (command, kind, payload) = self.instant(position), self.command(position)
            outcome = ledger.apply(self.state, command, at, self.new_id)
            entries.extend(outcome.entries)
            touched.update((block.id, block) for block in outcome.changed_blocks)
            log.append((position, kind, payload, at))
            self.state, self.position = self._carry(outcome), position
        return self._chunk(first, entries, touched, log)

    def _carry(self, outcome: ledger.Outcome) -> LedgerState:
        """The state the next command is applied to."""
        return outcome.state

    def _upcoming(self, now: datetime) -> datetime | None:
        """The head's next expiry after the chunk (the write path's `next_expiry`)."""
        return next_expiry(self.state, now)

    def _chunk(self, first: int, entries: list[Entry], touched: dict[str, Block],
               log: list[tuple[int, str, dict[str, Any], datetime]]) -> Chunk:  # fmt: skip
        state, now = self.state, self.instant(self.position)
        head = LedgerHead(
            CURRENCY, state.last_seq, state.balance, state.last_entry_at, self.position,
            self._upcoming(now), None, state.chain_head,
        )  # fmt: skip
        blocks = [(block, block.id in self._written) for block in touched.values()]
        self._written.update(touched)
        return Chunk(self.customer_id, first, entries, blocks, log, state, head, now)


# --- writing what the core decided ------------------------------------------------------------


def write_chunk(tx: Tx, chunk: Chunk) -> None:
    """The chunk through the store's statements, as the write path's `_persist` writes it."""
    if chunk.first_position == 1:
        genesis = chain.genesis(chunk.customer_id, CURRENCY)
        ledger_store.create_head(tx, chunk.customer_id, CURRENCY, genesis)
    ledger_store.persist(
        tx, chunk.customer_id, state=chunk.state, entries=chunk.entries,
        new_blocks=[block for block, stored in chunk.blocks if not stored],
        changed_blocks=[block for block, stored in chunk.blocks if stored],
        head=chunk.head, now=chunk.now,
    )  # fmt: skip
    c = tx.codec
    encoded: dict[int, Any] = {}  # equal decrements share one payload object (`command`)
    tx.write_many(_INSERT_COMMAND, [
        {"customer_id": chunk.customer_id, "currency": CURRENCY, "position": position,
         "kind": kind, "at": c.instant(at),
         "payload": encoded.get(id(payload)) or encoded.setdefault(id(payload), c.json(payload))}
        for position, kind, payload, at in chunk.log
    ])  # fmt: skip


class _Writer:
    """Writes chunks to one database on a thread of its own, transaction by transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="seed-writer")
        self._open: contextlib.ExitStack | None = None
        self._tx: Tx | None = None

    def write(self, chunk: Chunk) -> Future[None]:
        return self.thread.submit(self._write, chunk)

    def commit(self) -> Future[None]:
        return self.thread.submit(self._commit)

    def _write(self, chunk: Chunk) -> None:
        if self._tx is None:
            self._open = contextlib.ExitStack()
            self._tx = self._open.enter_context(writing(self.db))
        write_chunk(self._tx, chunk)

    def _commit(self) -> None:
        if self._open is not None:
            self._open.close()  # commits (or rolls back, if a write raised)
        self._open, self._tx = None, None

    def close(self) -> None:
        self.thread.submit(self._abandon).result()
        self.thread.shutdown()

    def _abandon(self) -> None:
        if self._open is not None:
            self._open.__exit__(RuntimeError, RuntimeError("seed abandoned"), None)
        self._open, self._tx = None, None


def seed_ledger(
    dbs: Sequence[Database],
    customer_id: str,
    entries: int,
    instant: Instant,
    *,
    new_id: NewId = random_id,
    remember: Sequence[int] = (),
) -> Seeded:
    """Write the ledger `LedgerSeed` describes to every database; `remember` names sequence
    numbers whose keys (for cursors and date filters) to return."""
    return write_seed(dbs, LedgerSeed(customer_id, entries, instant, new_id=new_id), remember)


def write_seed(dbs: Sequence[Database], seed: LedgerSeed, remember: Sequence[int] = ()) -> Seeded:
    """Decide `seed`'s ledger chunk by chunk and write it to every database."""
    seeded, wanted = Seeded(seed.customer_id, seed.entries), set(remember)
    writers = [_Writer(db) for db in dbs]
    in_flight: list[Future[None]] = []
    try:
        while not seed.done:
            chunk = seed.next_chunk(min(CHUNK_COMMANDS, _until_commit(seed.position)))
            seeded.keys.update((e.seq, EntryKey(e.created_at, e.seq, e.id))
                               for e in chunk.entries if e.seq in wanted)  # fmt: skip
            for future in in_flight:  # at most one chunk per database waits to be written
                future.result()
            in_flight = [writer.write(chunk) for writer in writers]
            if seed.done or seed.position % COMMANDS_PER_TRANSACTION == 0:
                in_flight += [writer.commit() for writer in writers]
        for future in in_flight:
            future.result()
    finally:
        for writer in writers:
            writer.close()
    seeded.balance = seed.state.balance
    return seeded


def _until_commit(position: int) -> int:
    return COMMANDS_PER_TRANSACTION - position % COMMANDS_PER_TRANSACTION


def fund_customers(
    dbs: Sequence[Database], customer_ids: Sequence[str], at: datetime, *,
    new_id: NewId = random_id,
) -> None:  # fmt: skip
    """One increment for each customer (a one-entry ledger each), in one transaction."""
    chunks = [LedgerSeed(cid, 1, lambda _: at, new_id=new_id).next_chunk(1) for cid in customer_ids]
    for db in dbs:
        with writing(db) as tx:
            for chunk in chunks:
                write_chunk(tx, chunk)
