"""Group commit: the process's writers apply queued write jobs in batches.

Every write of the process goes through `Committer.submit`. A writer takes the first
waiting job and everything queued behind it (up to `batch_max`) and runs them as one
batch in one transaction (`BEGIN IMMEDIATE` on SQLite), commits once and only then answers
each job. So a batch costs one fsync (SQLite `synchronous=FULL`) or one WAL flush
(PostgreSQL `synchronous_commit=on`), and an answer is never sent for a write that is not
durable.

A batch is decided in memory and written in bulk (issue 20): `prefetch` first loads what
all its jobs need, one query per table (customers and heads, locked in id order on
PostgreSQL; their open blocks; the batch's idempotency records); the jobs then run one
after another against that state, each seeing what the previous ones did, and their rows
wait in the transaction's buffer (`store/tx.py`) until they are written together, one
multi-row statement per table. A job that fails drops only its own rows, so a refused job
never undoes its neighbours. If the database refuses the bulk write itself, the batch is
rolled back and run again job by job, each job in its own savepoint (the fallback), so
one bad job still fails alone.

Under light load a batch is one job and nothing waits; under load, jobs queue while the
previous batch commits, so batches grow exactly when they pay (TigerBeetle's batching).

Concurrency: SQLite batches run on the event loop's thread (loop mode, `attach_loop`);
PostgreSQL batches run on writer threads ("lanes"), a customer's jobs always on the same
one. Several processes on one SQLite file take a file lock (`flock`) around each batch,
which wakes the next writer as soon as the lock is free.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import queue
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from drawdown.store.clock import ClockGuard, ClockSkewed
from drawdown.store.tx import BulkWriteRefused, Tx

log = logging.getLogger("drawdown.committer")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Job(Protocol[T_co]):
    """One unit of work; `lock` names the customer it writes (id), if any, and
    `idempotency_key` the (scope, key) whose stored response it looks up, if any."""

    @property
    def lock(self) -> LockKey | None: ...

    @property
    def idempotency_key(self) -> tuple[str, str] | None: ...

    def run(self, tx: Tx) -> T_co:
        """Do the work; raising rolls back everything this job wrote."""
        ...

    def recover(self, tx: Tx, error: Exception) -> T_co:
        """After `run` raised and was rolled back: answer instead (may write), or re-raise."""
        ...


@dataclass(frozen=True)
class LockKey:
    """A customer to lock before the batch runs: by drawdown id or by external id."""

    customer_id: str | None = None
    external_id: str | None = None


# Loads (bulk `Tx`) or only locks (job by job) what a batch's jobs name: `store/prefetch.py`.
Prefetch = Callable[[Tx, Sequence[LockKey], Sequence[tuple[str, str]]], None]


@dataclass
class _Queued(Generic[T]):
    job: Job[T]
    future: Any = field(default_factory=Future)  # concurrent Future, or asyncio's on the loop


_STOP = object()


class Committer:
    """The process's writers: one on SQLite (the event loop, or a thread), `lanes` threads
    on PostgreSQL. Submit jobs; `stop()` at exit (a lane's thread starts with its first job)."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 64,
        prefetch: Prefetch | None = None,
        lock_path: str | None = None,
        on_batch: Callable[[int], None] | None = None,
        lanes: int = 1,
        clock: ClockGuard | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._batch_max = max(1, batch_max)
        self._prefetch = prefetch
        self._lock_path = lock_path
        self._on_batch = on_batch
        # Thread mode runs `lanes` writers, each with its own connection and transaction; a
        # customer's jobs always go to the same lane, so they still batch together.
        self._lanes = [_Lane(self, index) for index in range(max(1, lanes))]
        self._start_lock = threading.Lock()
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._pending: list[_Queued[Any]] = []
        self._draining = False
        self._lock_fd: int | None = None
        # Loop mode: where the file lock and COMMIT (fsync) wait, off the event loop.
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="drawdown-commit")

    # --- submitting ------------------------------------------------------------------------

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run batches on this event loop's own thread instead of a writer thread (SQLite).

        SQLite calls are short and local, so blocking the loop for a batch costs less than
        handing every job to another thread: each hand-off and each GIL release in the
        writer thread made both threads wait for each other (measured in docs/benchmarks).
        """
        self._event_loop = loop
        self._loop_thread = threading.get_ident()

    def on_loop_thread(self) -> bool:
        """True on the event loop that runs the batches: there, writes must be awaited."""
        return self._event_loop is not None and threading.get_ident() == self._loop_thread

    def submit(self, job: Job[T]) -> Future[T] | asyncio.Future[T]:
        loop = self._event_loop
        if loop is not None:
            if threading.get_ident() == self._loop_thread:
                future: asyncio.Future[T] = loop.create_future()
                self._enqueue_on_loop(_Queued(job, future))
                return future
            waiting: Future[T] = Future()
            loop.call_soon_threadsafe(self._enqueue_on_loop, _Queued(job, waiting))
            return waiting
        result: Future[T] = Future()
        self._lane_for(job).put(_Queued(job, result))
        return result

    def _lane_for(self, job: Job[Any]) -> _Lane:
        lock = job.lock
        if lock is None or len(self._lanes) == 1:
            return self._lanes[0]
        key = lock.customer_id if lock.customer_id is not None else f"x:{lock.external_id}"
        return self._lanes[zlib.crc32(key.encode()) % len(self._lanes)]

    def _enqueue_on_loop(self, queued: _Queued[Any]) -> None:
        self._pending.append(queued)
        if not self._draining:
            self._draining = True
            assert self._event_loop is not None
            # Runs after the callbacks already due, so requests parsed in this loop turn join
            # the first batch; later ones queue while it commits.
            self._event_loop.create_task(self._drain())

    async def _drain(self) -> None:
        """Loop mode: jobs run on the loop; waiting (the file lock, fsync) happens off it."""
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending[: self._batch_max]
                del self._pending[: self._batch_max]
                outcomes = None
                try:
                    if self._lock_path is not None:
                        await loop.run_in_executor(self._io, self._lock_file)
                    transaction, tx, outcomes = self._open_and_run(self._lanes[0], batch)
                    await loop.run_in_executor(self._io, transaction.commit)
                    tx.committed()
                except Exception as error:
                    self._failed(self._lanes[0], batch, error)
                    outcomes = None
                finally:
                    self._unlock_file()
                if outcomes is not None:
                    self._deliver(batch, outcomes)
        finally:
            self._draining = False

    def run(self, job: Job[T]) -> T:
        """Submit and wait (for threads other than the writers themselves)."""
        assert not any(lane.is_current() for lane in self._lanes), "a job may not wait on a job"
        future = self.submit(job)
        assert isinstance(future, Future), "on the event loop, await the write instead"
        return future.result()

    def stop(self) -> None:
        for lane in self._lanes:
            lane.stop()
        self._io.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        for lane in self._lanes:
            lane.close_connection()

    # --- running batches ---------------------------------------------------------------------

    def run_batch(self, lane: _Lane, batch: list[_Queued[Any]]) -> None:
        """Thread mode: lock, run, commit and answer one batch."""
        try:
            self._lock_file()
            transaction, tx, outcomes = self._open_and_run(lane, batch)
            transaction.commit()
            tx.committed()
        except Exception as error:  # BEGIN, the prelock or COMMIT failed: nothing is durable
            self._failed(lane, batch, error)
            return
        finally:
            self._unlock_file()
        self._deliver(batch, outcomes)

    @property
    def batch_max(self) -> int:
        return self._batch_max

    def _open_and_run(
        self, lane: _Lane, batch: list[_Queued[Any]]
    ) -> tuple[Any, Tx, list[tuple[bool, Any]]]:
        """Run the batch in bulk; if the database refuses its bulk write, roll it back and
        run it again job by job (each job in its own savepoint)."""
        conn = lane.connection(self._engine)
        transaction = conn.begin()
        bulk = Tx(conn, bulk=True)
        try:
            tx, outcomes = self._run_batch_in(bulk, batch)
            if tx.poisoned is None:
                return transaction, tx, outcomes
            log.info("bulk write refused (%s); running the batch job by job", tx.poisoned)
        except BulkWriteRefused as refused:
            log.info("bulk write refused (%s); running the batch job by job", refused)
        bulk.abort_pipeline()
        transaction.rollback()
        transaction = conn.begin()
        tx, outcomes = self._run_batch_in(Tx(conn), batch)
        return transaction, tx, outcomes

    def _run_batch_in(self, tx: Tx, batch: list[_Queued[Any]]) -> tuple[Tx, list[tuple[bool, Any]]]:
        if self._clock is not None:  # one clock: refuse to write with a wrong one
            tx.database_now = self._clock.before_batch(tx)
        if self._prefetch is not None:
            locks = [q.job.lock for q in batch if q.job.lock is not None]
            keys = [k for q in batch if (k := getattr(q.job, "idempotency_key", None))]
            self._prefetch(tx, locks, keys)
        outcomes = []
        for queued in batch:
            outcomes.append(_run_job(tx, queued.job))
            if tx.poisoned is not None:
                return tx, outcomes
        tx.flush()
        return tx, outcomes

    def _failed(self, lane: _Lane, batch: list[_Queued[Any]], error: Exception) -> None:
        if not isinstance(error, ClockSkewed):  # the guard logs when that starts and ends
            log.warning("write batch of %d failed: %s", len(batch), error)
        lane.close_connection()
        for queued in batch:
            queued.future.set_exception(error)

    def _deliver(self, batch: list[_Queued[Any]], outcomes: list[tuple[bool, Any]]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch))
        for queued, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                queued.future.set_result(value)
            else:
                queued.future.set_exception(value)

    def _lock_file(self) -> None:
        """Serialize batches of several processes on one SQLite file without busy waits:
        a waiting writer sleeps in the kernel and wakes when the lock is released."""
        if self._lock_path is None:
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _unlock_file(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


class _Lane:
    """One writer: a queue, the thread that drains it (thread mode), and a connection."""

    def __init__(self, committer: Committer, index: int) -> None:
        self._committer = committer
        self._index = index
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._start_lock = threading.Lock()

    def put(self, queued: _Queued[Any]) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    name = f"drawdown-writer-{self._index}"
                    self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
                    self._thread.start()
        self._queue.put(queued)

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def connection(self, engine: Engine) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = engine.connect().execution_options(drawdown_write=True)
        return self._conn

    def close_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        batch_max = self._committer.batch_max
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            self._committer.run_batch(self, batch)
        self.close_connection()


def _run_job(tx: Tx, job: Job[Any]) -> tuple[bool, Any]:
    """Run one job so that it can be undone alone: (True, result) or (False, exception).

    A job that raised is undone, then asked to `recover` (which may write an answer, e.g.
    the error stored for its idempotency key), itself undone if it raises too.
    """
    tx.begin_job()
    try:
        result = job.run(tx)
        tx.end_job()
    except Exception as error:
        tx.abandon_job()
        tx.begin_job()
        try:
            result = job.recover(tx, error)
            tx.end_job()
        except Exception as final:
            tx.abandon_job()
            return False, final
    return True, result
