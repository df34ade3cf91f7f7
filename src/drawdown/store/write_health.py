"""Whether the database takes this process's writes: what `/ready` says about writing.

A database can answer reads and refuse every write: a full disk, a read-only file or
filesystem, a PostgreSQL in read-only mode. Readiness learns it two ways:

* **From every write.** `Database.submit` hands each write's outcome here. An error that
  says the database refuses writes (`refusal`: SQLite's FULL, READONLY, IOERR, CANTOPEN;
  PostgreSQL's disk_full, read_only_sql_transaction, io_error) marks writes refused; any
  write that commits clears it. Other errors (a business refusal, a lock timeout) say
  nothing either way.
* **From a probe**, when that says too little: while writes are refused (so that readiness
  comes back once they succeed again, even when a load balancer sends no traffic to a
  server that is not ready), and when no write finished in the last `EVIDENCE_SECONDS` (an
  idle server). The probe is one small write through the committer (one row of
  `server_secrets`), at most one at a time, waited for at most `PROBE_SECONDS_MAX`.

A busy server therefore never probes, and an idle one writes one row every ten seconds at
most, only when asked. On SQLite a probe can fit into WAL space a larger write cannot get;
readiness may then come back a little early, and goes again with the next refused write.

**Recovering without a restart.** A connection opened while writes were refused can go on
refusing after the database recovers: a PostgreSQL session keeps the read-only default it
began with. So a connection on which a write was refused is dropped at once (`Watched`:
the rest of its batch fails with it, as it would on a database refusing writes), and a
connection opened before the latest refusal, or before writes succeeded again, is replaced
when it is next taken from the pool (`attach`). SQLite is the exception: it opens a file
it cannot write read-only, once per process, and every later connection of the process
shares that open file for as long as any of them is open, so a server started on a
read-only file needs a restart once the file is writable again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from drawdown.store.committer import Job, LockKey
from drawdown.store.console import touch_secret
from drawdown.store.tx import Tx

log = logging.getLogger("drawdown.store")

T = TypeVar("T")

EVIDENCE_SECONDS = 10.0
PROBE_SECONDS_MAX = 5.0
PROBE_NAME = "write_probe"
_OPENED_AT = "drawdown_opened_at"  # pool record info: when the connection was opened

_SQLITE_REFUSALS = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_IOERR: "an I/O error",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened for writing",
}
_POSTGRES_REFUSALS = {
    "53100": "the disk is full",
    "25006": "the database is read-only",
    "58030": "an I/O error",
}


def refusal(error: BaseException) -> str | None:
    """Why the database refuses writes, if `error` (or what it wraps) says it does."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        reason = _own_refusal(current)
        if reason is not None:
            return f"{reason} ({_one_line(current)})"
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return None


def _own_refusal(error: BaseException) -> str | None:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return None if code is None else _SQLITE_REFUSALS.get(code & 0xFF)
    sqlstate = getattr(error, "sqlstate", None)  # psycopg's errors carry it
    return _POSTGRES_REFUSALS.get(sqlstate) if isinstance(sqlstate, str) else None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


class WriteHealth:
    """The latest evidence about this process's writes, and the probe that renews it."""

    def __init__(self, probe: Callable[[], None]) -> None:
        self._probe = probe
        self._refused: str | None = None
        self._evidence_at: float | None = None  # monotonic instant of the latest outcome
        # Connections opened before the latest refusal, or before writes succeeded again
        # after one, may be sessions that refuse writes: replaced when taken from the pool.
        self._suspect_before = float("-inf")
        self._state = threading.Lock()
        self._probing = threading.Lock()

    def attach(self, engine: Engine) -> None:
        """Replace, as they leave the pool, connections opened before the latest refusal."""
        event.listen(engine, "connect", self._opened)
        event.listen(engine, "checkout", self._checked_out)

    def observe(self, future: Any) -> None:
        """A write finished (a done-callback of every write's future)."""
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._record(None)
        elif (reason := refusal(error)) is not None:
            self._record(reason)

    def refused(self) -> str | None:
        """None while writes reach the database, else why they do not (probing if the
        evidence is old, or says they are refused)."""
        with self._probing:  # concurrent callers share one probe
            if self._fresh():
                return self._refused
            started = time.monotonic()
            try:
                self._probe()
            except TimeoutError:
                return self._unsure(f"a probe write did not finish within {PROBE_SECONDS_MAX:g} s")
            except Exception as error:
                reason = refusal(error)
                if reason is not None:
                    self._record(reason)
                    return reason
                if self._refused is not None and self._suspect_before >= started:
                    return self._refused  # the probe's own write was refused (`Watched`)
                return self._unsure(f"a probe write failed: {_one_line(error)}")
            self._record(None)
            return None

    def record_refusal(self, reason: str) -> None:
        self._record(reason)

    @staticmethod
    def _unsure(reason: str) -> str:
        """Not ready, but the database did not say it refuses writes (slow, lost): no
        verdict is kept, the next readiness check probes again."""
        log.warning("readiness: %s", reason)
        return reason

    def _fresh(self) -> bool:
        """Whether the latest evidence can be trusted without a probe: a success of the last
        `EVIDENCE_SECONDS` (a refusal is always re-checked, so readiness can come back)."""
        at = self._evidence_at
        recent = at is not None and time.monotonic() - at < EVIDENCE_SECONDS
        return recent and self._refused is None

    def _record(self, reason: str | None) -> None:
        with self._state:
            was, self._refused = self._refused, reason
            self._evidence_at = time.monotonic()
            if reason is not None or was is not None:  # a refusal, or the end of one
                self._suspect_before = self._evidence_at
        if reason is not None and was is None:
            log.error("writes refused: %s", reason)
        elif reason is None and was is not None:
            log.warning("writes succeed again (they were refused: %s)", was)

    def _opened(self, _dbapi_connection: Any, record: Any) -> None:
        record.info[_OPENED_AT] = time.monotonic()

    def _checked_out(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get(_OPENED_AT, float("-inf")) <= self._suspect_before:
            # The pool drops it and opens another (SQLAlchemy's documented "pessimistic
            # disconnect handling" hook).
            raise DisconnectionError("opened before the database last refused a write")


class Watched(Generic[T]):
    """A write job as `Database.submit` hands it to the committer: the same job, except that
    when the database refuses its write, the refusal is recorded and its connection dropped
    (its batch then fails, and the committer opens a new connection for the next one)."""

    __slots__ = ("_job", "_on_refused", "lock")

    def __init__(self, job: Job[T], on_refused: Callable[[str], None]) -> None:
        self._job = job
        self._on_refused = on_refused
        self.lock: LockKey | None = job.lock

    @property
    def idempotency_key(self) -> tuple[str, str] | None:
        return self._job.idempotency_key

    def run(self, tx: Tx) -> T:
        return self._job.run(tx)

    def recover(self, tx: Tx, error: Exception) -> T:
        reason = refusal(error)
        if reason is None:
            return self._job.recover(tx, error)
        self._on_refused(reason)
        tx.conn.invalidate()
        raise error


class Probe:
    """The smallest real write: one row of `server_secrets`, rewritten."""

    lock: LockKey | None = None
    idempotency_key: tuple[str, str] | None = None

    def run(self, tx: Tx) -> None:
        touch_secret(tx, PROBE_NAME, datetime.now(UTC).isoformat())

    def recover(self, tx: Tx, error: Exception) -> None:
        raise error
