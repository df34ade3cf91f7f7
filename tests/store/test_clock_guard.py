"""On PostgreSQL a batch's "now" is the database's time (`store/clock.py`): read at most once a
second, and carried forward between readings on the monotonic clock, so a step of this
process's wall clock never reaches an entry; while the clocks disagree, every batch reads
again and is refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drawdown.store import clock
from drawdown.store.clock import ClockGuard, ClockSkewed


class FakeTx:
    """What the guard needs of a PostgreSQL `Tx`: the database's clock, one statement."""

    postgres = True

    def __init__(self, database_now: datetime) -> None:
        self.database_now = database_now
        self.reads = 0

    def one(self, _statement: Any, _params: Any) -> tuple[datetime]:
        self.reads += 1
        return (self.database_now,)


class Clocks:
    """This process's wall and monotonic clocks, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.wall = time.time()
        self.monotonic = 1000.0
        monkeypatch.setattr(clock.time, "time", lambda: self.wall)
        monkeypatch.setattr(clock.time, "monotonic", lambda: self.monotonic)


def test_the_database_time_is_read_once_a_second_and_carried_on_the_monotonic_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clocks = Clocks(monkeypatch)
    database = datetime.fromtimestamp(clocks.wall, UTC) + timedelta(seconds=0.5)
    fake = FakeTx(database)
    tx: Any = fake  # stands in for a PostgreSQL `Tx`
    guard = ClockGuard(skew_max_seconds=2.0, sqlite_probe_path=None)

    assert guard.before_batch(tx) == database and fake.reads == 1
    clocks.monotonic += 0.25
    clocks.wall += 3600  # the wall clock steps an hour: the batch's time does not
    assert guard.before_batch(tx) == database + timedelta(seconds=0.25)
    assert fake.reads == 1
    clocks.monotonic += 0.75  # the reading is a second old: read again, and judge the step
    with pytest.raises(ClockSkewed):
        guard.before_batch(tx)
    assert fake.reads == 2
    clocks.monotonic += 0.1  # while skewed, every batch reads (and is refused)
    with pytest.raises(ClockSkewed):
        guard.before_batch(tx)
    assert fake.reads == 3
    clocks.wall -= 3600  # corrected: the next batch reads, agrees and writes
    fake.database_now = database + timedelta(seconds=1.1)
    assert guard.before_batch(tx) == fake.database_now and fake.reads == 4
    assert guard.skew() is None
