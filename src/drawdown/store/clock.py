"""One clock (issue 23): writes trust the database's time, and a process whose own clock
strays from it refuses to write.

Every ledger write stamps entries and decides expiries with "now". If each server used its
own clock, a server two days ahead would expire credits early and stamp entries in the
future (ledger time never goes back, so every later entry would stay there), and one two
days behind would accept an expiry already past. So:

* on PostgreSQL the batches' jobs take the database's time as "now": one clock for every
  node. A batch reads `clock_timestamp()` when the last reading is a second old or more;
  in between, "now" is that reading plus the time elapsed since on the process's
  monotonic clock, which a step of the wall clock does not move (one round trip less per
  batch under load; the reading is never more than a second old);
* on both databases a process compares its own clock with the database's before it writes:
  PostgreSQL's, or for SQLite the kernel's (the modification time the kernel gives a small
  file beside the database when the process writes to it: a process's clock can be wrong,
  the kernel's file times are the machine's). While the two differ by more than
  `skew_max_seconds`, every write is refused (`ClockSkewed`, a 503) and `/ready` fails; one
  log line says so when it starts and one when it ends.

SQLite's check costs a small write and a `stat`, so it runs at most once a second, as the
PostgreSQL read does (sending that read in one pipeline with the BEGIN before it measured
slower: docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from drawdown.store.prepared import Prepared
from drawdown.store.tx import Tx

log = logging.getLogger("drawdown.clock")

SQLITE_CHECK_SECONDS = 1.0
POSTGRES_READING_SECONDS = 1.0  # the oldest database reading a batch's "now" may start from
_DATABASE_NOW = Prepared(lambda: select(func.clock_timestamp()))


class ClockSkewed(Exception):
    """This process's clock differs from the database's by more than the bound."""

    def __init__(self, skew_seconds: float, bound_seconds: float) -> None:
        direction = "ahead of" if skew_seconds > 0 else "behind"
        super().__init__(
            f"this server's clock is {abs(skew_seconds):.1f} s {direction} the database's "
            f"(at most {bound_seconds:g} s allowed); writes are refused until it is corrected"
        )
        self.skew_seconds = skew_seconds


class ClockGuard:
    """The comparison of this process's clock with the database's, kept for `/ready`."""

    def __init__(self, skew_max_seconds: float, sqlite_probe_path: str | None) -> None:
        self.skew_max_seconds = skew_max_seconds
        self._probe_path = sqlite_probe_path
        self._skewed: ClockSkewed | None = None
        self._checked_at = float("-inf")  # monotonic instant of the last SQLite check
        # PostgreSQL: the last reading of the database's clock, and the monotonic instant of it.
        self._reading: tuple[datetime, float] | None = None
        self._lock = threading.Lock()

    def before_batch(self, tx: Tx) -> datetime | None:
        """Check the clocks before a batch writes: the database's "now" on PostgreSQL (its
        jobs' time), None on SQLite; raises `ClockSkewed` while they differ too much."""
        if tx.postgres:
            return self._postgres_now(tx)
        if time.monotonic() - self._checked_at >= SQLITE_CHECK_SECONDS or self._skewed:
            self._compare_with_kernel()
        if self._skewed is not None:
            raise self._skewed
        return None

    def skew(self, tx: Tx | None = None) -> str | None:
        """None while the clocks agree, else why writes are refused (checked now)."""
        try:
            if tx is not None and tx.postgres:
                self._compare_with_postgres(tx)
            elif self._probe_path is not None:
                self._compare_with_kernel()
        except ClockSkewed as skewed:
            return str(skewed)
        return None if self._skewed is None else str(self._skewed)

    def _postgres_now(self, tx: Tx) -> datetime:
        """The database's time now: read, or (while the clocks agree) the last reading
        carried forward on the monotonic clock, if it is less than a second old."""
        with self._lock:
            reading, skewed = self._reading, self._skewed
        if reading is not None and skewed is None:
            elapsed = time.monotonic() - reading[1]
            if 0 <= elapsed < POSTGRES_READING_SECONDS:
                return reading[0] + timedelta(seconds=elapsed)
        return self._compare_with_postgres(tx)

    def _compare_with_postgres(self, tx: Tx) -> datetime:
        before, started = time.time(), time.monotonic()
        row = tx.one(_DATABASE_NOW, {})
        assert row is not None
        database_now: datetime = row[0]
        after, ended = time.time(), time.monotonic()
        now = database_now if database_now.tzinfo is UTC else database_now.astimezone(UTC)
        with self._lock:  # the reading was taken about halfway through the round trip
            self._reading = (now, (started + ended) / 2)
        self._judge((before + after) / 2 - now.timestamp())
        return now

    def _compare_with_kernel(self) -> None:
        assert self._probe_path is not None
        fd = os.open(self._probe_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"t")
            stamped = os.fstat(fd).st_mtime_ns / 1e9
        finally:
            os.close(fd)
        self._checked_at = time.monotonic()
        self._judge(time.time() - stamped)

    def _judge(self, skew_seconds: float) -> None:
        with self._lock:
            if abs(skew_seconds) <= self.skew_max_seconds:
                if self._skewed is not None:
                    log.warning("clock agrees with the database again; writes resume")
                self._skewed = None
                return
            if self._skewed is None:
                log.error("writes refused: %s", ClockSkewed(skew_seconds, self.skew_max_seconds))
            self._skewed = ClockSkewed(skew_seconds, self.skew_max_seconds)
        raise self._skewed


def probe_path(database_path: str | None) -> str | None:
    """The file beside a SQLite database whose kernel time the guard reads."""
    return None if not database_path or database_path == ":memory:" else database_path + "-clock"
