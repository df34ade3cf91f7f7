"""Group commit: one writer thread per process applies queued write jobs in batches.

Every write of the process goes through `Committer.submit`. The writer takes the first
waiting job and everything queued behind it (up to `batch_max`), opens one transaction
(`BEGIN IMMEDIATE` on SQLite), runs each job in its own savepoint, commits once and only
then answers each job. So a batch costs one fsync (SQLite `synchronous=FULL`) or one WAL
flush (PostgreSQL `synchronous_commit=on`), a refused job never undoes its neighbours, and
an answer is never sent for a write that is not durable.

Under light load a batch is one job and nothing waits; under load, jobs queue while the
previous batch commits, so batches grow exactly when they pay (TigerBeetle's batching).

Concurrency: inside one process there is one writer, so no thread ever waits in SQLite's
busy handler. Several processes on one SQLite file take a file lock (`flock`) around each
batch, which wakes the next writer as soon as the lock is free. On PostgreSQL each batch
first locks the customers its jobs name, in id order, in one statement: batches of
different processes then never deadlock on customer rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from drawdown.store.tx import Tx

log = logging.getLogger("drawdown.committer")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Job(Protocol[T_co]):
    """One unit of work; `lock` names the customer it writes (id), if any."""

    @property
    def lock(self) -> LockKey | None: ...

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


Prelock = Callable[[Tx, Sequence[LockKey]], None]


@dataclass
class _Queued(Generic[T]):
    job: Job[T]
    future: Future[T] = field(default_factory=Future)


_STOP = object()


class Committer:
    """The process's single writer. Start with `start()`, submit jobs, `stop()` at exit."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 64,
        prelock: Prelock | None = None,
        lock_path: str | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._engine = engine
        self._batch_max = max(1, batch_max)
        self._prelock = prelock
        self._lock_path = lock_path
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._start_lock = threading.Lock()

    # --- submitting ------------------------------------------------------------------------

    def submit(self, job: Job[T]) -> Future[T]:
        self._ensure_started()
        queued: _Queued[T] = _Queued(job)
        self._queue.put(queued)
        return queued.future

    def run(self, job: Job[T]) -> T:
        """Submit and wait (for threads other than the writer itself)."""
        assert threading.current_thread() is not self._thread, "a job may not wait on a job"
        return self.submit(job).result()

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name="drawdown-committer", daemon=True)
                thread.start()
                self._thread = thread

    def stop(self) -> None:
        thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)
            self._thread = None

    # --- the writer ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self._batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            self._run_batch(batch)
        self._close_connection()

    def _run_batch(self, batch: list[_Queued[Any]]) -> None:
        try:
            with self._file_lock():
                outcomes = self._transaction(batch)
        except Exception as error:  # BEGIN, the prelock or COMMIT failed: nothing is durable
            log.warning("write batch of %d failed: %s", len(batch), error)
            self._close_connection()
            for queued in batch:
                queued.future.set_exception(error)
            return
        if self._on_batch is not None:
            self._on_batch(len(batch))
        for queued, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                queued.future.set_result(value)
            else:
                queued.future.set_exception(value)

    def _transaction(self, batch: list[_Queued[Any]]) -> list[tuple[bool, Any]]:
        conn = self._connection()
        with conn.begin():
            tx = Tx(conn)
            if self._prelock is not None and tx.postgres:
                keys = [q.job.lock for q in batch if q.job.lock is not None]
                if keys:
                    self._prelock(tx, keys)
            return [_run_job(tx, queued.job) for queued in batch]

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect().execution_options(drawdown_write=True)
        return self._conn

    def _close_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialize batches of several processes on one SQLite file without busy waits."""
        if self._lock_path is None:
            yield
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _run_job(tx: Tx, job: Job[Any]) -> tuple[bool, Any]:
    """Run one job in its own savepoint: (True, result) or (False, exception)."""
    tx.savepoint("dd_job")
    try:
        result = job.run(tx)
    except Exception as error:
        tx.rollback_to("dd_job")
        try:
            result = job.recover(tx, error)
        except Exception as final:
            tx.rollback_to("dd_job")
            tx.release("dd_job")
            return False, final
    tx.release("dd_job")
    return True, result
