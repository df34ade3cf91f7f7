"""`Database`: the store as the rest of drawdown sees it — reads, writes, and closing.

Reads run in snapshot transactions on pooled connections; writes are jobs for the
process's committer (group commit), and each write's outcome tells `writes`
(store/write_health.py) whether the database still takes them. Built once per process by
the composition root.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from psycopg.pq import TransactionStatus

from drawdown.store import migrate
from drawdown.store.committer import Job
from drawdown.store.engine import (
    StoreConfig,
    clock_guard,
    describe_url,
    held_read,
    loop_reader,
    make_committer,
    make_engine,
    read_transaction,
)
from drawdown.store.tx import Tx
from drawdown.store.write_health import PROBE_SECONDS_MAX, Probe, Watched, WriteHealth

T = TypeVar("T")


class Database:
    def __init__(self, config: StoreConfig, *, on_batch: Callable[[int], None] | None = None):
        self.config = config
        self.engine = make_engine(config)
        self.clock = clock_guard(self.engine, config)
        self.committer = make_committer(self.engine, config, on_batch, self.clock)
        self.writes = WriteHealth(probe=self._probe_write)
        self.writes.attach(self.engine)
        # Reads on the event loop run one at a time on one held connection.
        self._loop_reader: Any = None
        self._loop_reading = False
        self._loop_thread = 0

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    @property
    def kind(self) -> str:
        return "SQLite" if self.dialect == "sqlite" else "PostgreSQL"

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve this event loop: its reads run on it, on one held connection (both
        databases), and on SQLite so do the committer's batches (`Committer.attach_loop`).

        A read on the loop skips the thread pool's hand-off and the pool's checkout: on
        SQLite it is local and short (measured 2.3x the block-list rate); on PostgreSQL
        the held connection is in autocommit mode, so a one-statement read is one round
        trip (no BEGIN, COMMIT or pre-ping), and a read of several statements sees what
        a READ COMMITTED transaction would (each statement its own snapshot).
        """
        if self.dialect == "sqlite":
            self.committer.attach_loop(loop)
        self._loop_thread = threading.get_ident()

    @property
    def location(self) -> str:
        """The SQLite file, or PostgreSQL's user@host:port/database (never a password)."""
        return describe_url(self.config.database_url)

    @property
    def reads_on_loop(self) -> bool:
        """Whether the server runs reads on its event loop (`attach_loop`) or in threads."""
        return self._loop_thread != 0

    def on_loop_thread(self) -> bool:
        return self._loop_thread != 0 and threading.get_ident() == self._loop_thread

    @contextmanager
    def read(self) -> Iterator[Tx]:
        if self._loop_reading or not (self.reads_on_loop and self.on_loop_thread()):
            with read_transaction(self.engine) as tx:  # threads, a nested read
                yield tx
            return
        if self._loop_reader is None:
            self._loop_reader = loop_reader(self.engine)
        self._loop_reading = True
        try:
            with held_read(self._loop_reader) as tx:
                yield tx
        except BaseException:
            # A refused read (a 404) was rolled back and the connection stays;
            # one whose rollback failed too is left in a transaction: replace it.
            if not _idle(self._loop_reader):
                self._drop_loop_reader()
            raise
        finally:
            self._loop_reading = False

    def _drop_loop_reader(self) -> None:
        reader, self._loop_reader = self._loop_reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()

    def submit(self, job: Job[T]) -> Future[T] | asyncio.Future[T]:
        future = self.committer.submit(Watched(job, on_refused=self.writes.record_refusal))
        future.add_done_callback(self.writes.observe)
        return future

    def clock_skew(self) -> str | None:
        """None while this process's clock agrees with the database's, else why writes are
        refused (checked now: a read of the database's clock, or a stat on SQLite)."""
        if self.dialect == "sqlite":
            return self.clock.skew()
        with read_transaction(self.engine) as tx:
            return self.clock.skew(tx)

    def write_refusal(self) -> str | None:
        """None while the database takes writes, else why not (one line; may probe). Call it
        from a thread, never the event loop: a probe waits for the committer."""
        return self.writes.refused()

    def _probe_write(self) -> None:
        """One probe write, waited for; raises what refused it (TimeoutError if slow)."""
        future = self.submit(Probe())
        assert isinstance(future, Future), "probe writes from a thread, not the event loop"
        future.result(timeout=PROBE_SECONDS_MAX)

    def migrate(self) -> list[migrate.Migration]:
        """Apply pending migrations; those applied, oldest first."""
        return migrate.upgrade(self.engine)

    def pending_migrations(self) -> list[str]:
        return migrate.pending(self.engine)

    def schema_revision(self) -> str | None:
        """The migration the database is at (None before the first one)."""
        return migrate.current_revision(self.engine)

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.read() as tx:
            tx.execute_text("SELECT 1")

    def backup_sqlite(self, path: str) -> None:
        """Copy the SQLite database into a new file at `path` with SQLite's online backup
        API: one step, so the copy is one consistent snapshot; in WAL mode it blocks no
        writer (of this or another process) while it reads."""
        assert self.dialect == "sqlite"
        with self.engine.connect() as conn:
            source = conn.connection.driver_connection
            assert isinstance(source, sqlite3.Connection)
            target = sqlite3.connect(path)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                target.close()

    def close(self) -> None:
        self._drop_loop_reader()
        self.committer.stop()
        self.engine.dispose()

    def raw_engine(self) -> Any:
        """The SQLAlchemy engine, for tests and tools inside `store/` only."""
        return self.engine


def _idle(conn: Any) -> bool:
    """Whether a held connection is usable for the next read (no transaction left open)."""
    try:
        if conn.invalidated or conn.in_transaction():
            return False
        driver = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            return bool(driver.info.transaction_status == TransactionStatus.IDLE)
        return not driver.in_transaction
    except Exception:
        return False
