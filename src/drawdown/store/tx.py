"""`Tx`: the one transaction handle services hold, so they never import SQLAlchemy.

It offers two ways to run SQL inside the same database transaction: Core statements
(`execute`, most queries) and prepared statements on the raw driver cursor (`rows`,
`write`, `write_many`: the hot write and list paths, see `store/prepared.py`).

A committer batch runs in a *bulk* `Tx` (issue 20: decide in memory, write in bulk). Its
prepared writes that have a `bulk_rank` are not sent when a job makes them: they wait in a
buffer, and the whole batch's rows go out together, one `executemany` per statement, in
rank order (the order of the tables' foreign keys), before the batch commits or before
anything reads the database, except a read of one customer's rows when no buffered row is
that customer's (`Prepared.one_customer`): so jobs that each read their own customer's
rows, as the deducter's do, still write together. A job therefore costs no statement of
its own unless it reads something the batch did not load (`store/cache.py`). A job that is
rolled back drops the rows it buffered; if its rows already reached the database (it read
after writing), it took a savepoint first, lazily, just before they were sent, and rolls
back to it. If the database refuses a bulk write, the `Tx` is *poisoned*: the committer
rolls the batch back and runs it again job by job, each in its own savepoint (`bulk=False`,
as before).

On PostgreSQL, writes and savepoints are *pipelined* (psycopg's pipeline mode): they are
sent without waiting for their answers, which arrive together with the next read or at
`flush`. Core statements (which may look at row counts) always run outside a pipeline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from drawdown.store.cache import BatchCache
from drawdown.store.codec import Codec, codec_for
from drawdown.store.prepared import Prepared

Params = Mapping[str, Any]


class BulkWriteRefused(Exception):
    """The database refused a buffered write: the batch must run again, job by job."""


@dataclass
class _Frame:
    """The job running in this transaction (the committer runs one at a time, `_run_job`)."""

    name: str
    mark: int  # buffered writes before this index are not the job's
    on_commit_mark: int
    savepoint: bool = False  # taken (lazily in bulk mode) and not yet released


class Tx:
    """An open database transaction (a read snapshot or a write), on one connection."""

    def __init__(self, conn: Connection, *, bulk: bool = False) -> None:
        self.conn = conn
        self.dialect: str = conn.dialect.name
        self.postgres = self.dialect == "postgresql"
        self.codec: Codec = codec_for(self.dialect)
        driver = conn.connection.driver_connection
        assert driver is not None
        self._driver = driver
        self._cursor: Any = None
        self._pipeline: Any = None  # psycopg's pipeline context while writes are in flight
        # Bulk mode: ranked writes wait here, and the batch's reads come from `batch`.
        self.batch: BatchCache | None = BatchCache() if bulk else None
        self._buffer: list[tuple[Prepared, Params]] = []
        # The customers the buffered rows belong to; None: some row names no customer.
        self._buffered_customers: set[str] | None = set()
        self._frames: list[_Frame] = []
        self._on_commit: list[Callable[[], None]] = []
        self.poisoned: BaseException | None = None
        # A batch's "now" from the database's clock (PostgreSQL, `store/clock.py`).
        self.database_now: datetime | None = None

    # --- reads and unbuffered statements ----------------------------------------------------

    def execute(
        self, statement: Executable, params: Params | Sequence[Params] | None = None
    ) -> Any:
        """Run a Core statement (returns SQLAlchemy's result; use `.mappings()` etc.)."""
        if getattr(statement, "is_select", False):
            self.flush()
        else:
            self._before_direct_write()
        result: CursorResult[Any] = self.conn.execute(statement, params)
        return result

    def insert_unless_duplicate(self, statement: Executable) -> bool:
        """Run a write in a savepoint; False (and nothing written) if a unique key refused it.

        The database, not an earlier lookup, decides races between concurrent writers; the
        savepoint keeps the surrounding transaction usable afterwards.
        """
        self._before_direct_write()
        try:
            with self.conn.begin_nested():
                self.conn.execute(statement)
        except IntegrityError:
            return False
        return True

    def execute_text(self, sql: str) -> list[tuple[Any, ...]]:
        """Run literal SQL without parameters (health checks, maintenance)."""
        self._before_direct_write()
        return list(self.conn.exec_driver_sql(sql).all())

    def _raw(self) -> Any:
        if self._cursor is None:
            self._cursor = self._driver.cursor()
        return self._cursor

    def _run(self, cursor: Any, statement: Prepared, params: Params) -> None:
        constants = statement.constants(self.dialect)
        cursor.execute(
            statement.sql(self.dialect), {**constants, **params} if constants else params
        )

    def rows(self, statement: Prepared, params: Params) -> list[tuple[Any, ...]]:
        self._before_read(statement, params)
        cursor = self._raw()
        self._run(cursor, statement, params)
        return list(cursor.fetchall())

    def one(self, statement: Prepared, params: Params) -> tuple[Any, ...] | None:
        self._before_read(statement, params)
        cursor = self._raw()
        self._run(cursor, statement, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row

    def batches(
        self, statement: Prepared, params: Params, *, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows in batches of `size`, on a cursor of their own (for long scans)."""
        self.flush()
        cursor = self._driver.cursor()
        self._run(cursor, statement, params)
        while batch := cursor.fetchmany(size):
            yield list(batch)

    # --- writes --------------------------------------------------------------------------------

    def write(self, statement: Prepared, params: Params) -> None:
        """A prepared write whose answer is not needed: buffered in bulk mode when the
        statement has a `bulk_rank`, else sent now (pipelined on PostgreSQL)."""
        if self.batch is not None and statement.bulk_rank is not None:
            self._buffer.append((statement, params))
            self._note_customer(params)
            return
        self._before_direct_write()
        self._pipelined()
        self._run(self._raw(), statement, params)

    def write_many(self, statement: Prepared, params: Sequence[Params]) -> None:
        if not params:
            return
        if self.batch is not None and statement.bulk_rank is not None:
            self._buffer.extend((statement, p) for p in params)
            for p in params:
                self._note_customer(p)
            return
        self._before_direct_write()
        self._pipelined()
        self._raw().executemany(statement.sql(self.dialect), params)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (never if the job that
        registered it is rolled back, nor if the batch runs again job by job)."""
        self._on_commit.append(callback)

    def committed(self) -> None:
        callbacks, self._on_commit = self._on_commit, []
        for callback in callbacks:
            callback()

    # --- jobs ----------------------------------------------------------------------------------

    def begin_job(self) -> None:
        """A job starts: what it writes from now on can be undone alone (`abandon_job`)."""
        frame = _Frame(f"dd_job_{len(self._frames)}", len(self._buffer), len(self._on_commit))
        self._frames.append(frame)
        if self.batch is None:
            self._savepoint(frame)  # job by job: every job in its own savepoint, as before

    def end_job(self) -> None:
        """The job is done. Job by job, its pipelined writes are answered first: an error
        among them still belongs to the job (the caller then abandons it)."""
        frame = self._frames[-1]
        if frame.savepoint:
            self._raw().execute(f"RELEASE SAVEPOINT {frame.name}")
            if self.batch is None:
                self.flush()
        self._frames.pop()

    def abandon_job(self) -> None:
        """Undo everything the current job wrote (and forget what the batch cache knew)."""
        frame = self._frames.pop()
        del self._on_commit[frame.on_commit_mark :]
        if self.batch is not None:
            self.batch.clear()
        if self.poisoned is not None:
            return  # the batch runs again job by job: nothing here is kept anyway
        del self._buffer[frame.mark :]
        self._buffered_customers = set()
        for _, params in self._buffer:
            self._note_customer(params)
        if frame.savepoint:
            with contextlib.suppress(Exception):  # the failure being rolled back, raised once
                self._flush_pipeline()
            self._raw().execute(f"ROLLBACK TO SAVEPOINT {frame.name}")
            self._raw().execute(f"RELEASE SAVEPOINT {frame.name}")

    def _before_direct_write(self) -> None:
        """A write sent now, not buffered: what is buffered goes first, and every running job
        takes its savepoint (if it has none yet, nothing of it has reached the database),
        so that abandoning the job undoes this write too. The batch cache cannot follow
        such a write, so it is emptied."""
        self._send_buffer()
        for frame in self._frames:
            if not frame.savepoint:
                self._savepoint(frame)
        # Core statements read row counts, which a psycopg pipeline does not report.
        self._flush_pipeline()
        if self.batch is not None:
            self.batch.clear()

    def _savepoint(self, frame: _Frame) -> None:
        self._pipelined()
        self._raw().execute(f"SAVEPOINT {frame.name}")
        frame.savepoint = True

    # --- sending the buffer ----------------------------------------------------------------

    def _note_customer(self, params: Params) -> None:
        """Remember whose row was buffered: its `customer_id` (or `k_customer_id`, the key of
        an update); a row with neither could be anyone's."""
        customer = params.get("customer_id", params.get("k_customer_id"))
        if not isinstance(customer, str):
            self._buffered_customers = None
        elif self._buffered_customers is not None:
            self._buffered_customers.add(customer)

    def _before_read(self, statement: Prepared, params: Params) -> None:
        """Send the buffered writes before a read, unless the read is of one customer's rows
        and no buffered row is that customer's; pipelined answers are awaited either way,
        so a refused write still surfaces here."""
        buffered = self._buffered_customers
        if (self._buffer and statement.one_customer and buffered is not None
                and params["customer_id"] not in buffered):  # fmt: skip
            self._flush_pipeline()
        else:
            self._send_buffer()

    def flush(self) -> None:
        """Send every buffered write and wait for every pipelined statement's answer;
        raises the first one that failed."""
        self._send_buffer()
        self._flush_pipeline()

    def _send_buffer(self) -> None:
        """Send the buffered writes, grouped by statement in rank order. Every running job
        that has rows among them takes its savepoint first, so it can still be undone."""
        if not self._buffer:
            return
        if self.poisoned is not None:
            raise BulkWriteRefused("an earlier bulk write of this batch was refused")
        buffer, self._buffer = self._buffer, []
        self._buffered_customers = set()
        try:
            start = 0
            for frame in self._frames:
                if not frame.savepoint and frame.mark < len(buffer):
                    self._send_grouped(buffer[start : frame.mark])
                    start = max(start, frame.mark)
                    self._savepoint(frame)
            self._send_grouped(buffer[start:])
            for frame in self._frames:
                frame.mark = 0
            if self.postgres:
                self._flush_pipeline()  # a refusal must surface here, not in the next read
        except Exception as error:
            self.poisoned = error
            self.abort_pipeline()
            raise BulkWriteRefused(str(error)) from error

    def _send_grouped(self, writes: Sequence[tuple[Prepared, Params]]) -> None:
        """One `executemany` per statement, in rank order; a statement's rows keep their
        order (the last update of a row wins, as it did when it was made)."""
        if not writes:
            return
        ordered = sorted(writes, key=lambda write: write[0].bulk_rank or 0)  # stable
        self._pipelined()
        cursor = self._raw()
        for statement, group in groupby(ordered, key=lambda write: write[0]):
            rows = [params for _, params in group]
            constants = statement.constants(self.dialect)
            if constants:
                rows = [{**constants, **params} for params in rows]
            cursor.executemany(statement.sql(self.dialect), rows)

    def abort_pipeline(self) -> None:
        """Leave pipeline mode whatever state it is in, so the transaction can be rolled
        back (an aborted pipeline refuses everything until it is left)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            with contextlib.suppress(Exception):
                pipeline.__exit__(None, None, None)

    def _flush_pipeline(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(None, None, None)

    def _pipelined(self) -> None:
        if self.postgres and self._pipeline is None:
            pipeline = self._driver.pipeline()
            pipeline.__enter__()
            self._pipeline = pipeline
