"""A committer batch runs in a bulk `Tx` (`store/tx.py`): buffered writes go out together, a
failed job undoes exactly its own writes (buffered, sent after a read, or sent directly by a
Core statement), and a bulk write the database refuses makes the batch run again job by job,
so one bad job fails alone. On both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from drawdown.records import StoredResponse
from drawdown.store import idempotency
from drawdown.store import usage as usage_store
from drawdown.store.committer import LockKey, _Queued
from drawdown.store.schema import idempotency_keys, server_secrets
from drawdown.store.tx import Tx
from support.contexts import make_context

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Job:
    """A committer job from a function; `recover` re-raises (no rendering)."""

    body: Callable[[Tx], Any]
    lock: LockKey | None = None
    idempotency_key: tuple[str, str] | None = None

    def run(self, tx: Tx) -> Any:
        return self.body(tx)

    def recover(self, tx: Tx, error: Exception) -> Any:
        raise error


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Any]:
    ctx = make_context(database_factory(request.param))
    try:
        yield ctx.db
    finally:
        ctx.keys.stop()
        ctx.db.close()


def _remember(tx: Tx, key: str) -> None:
    """A buffered (ranked) write: an idempotency record."""
    idempotency.store(tx, "scope", key, StoredResponse("fp", 201, b"{}", NOW))


def _keys(db: Any) -> list[str]:
    with db.read() as tx:
        return sorted(tx.execute(select(idempotency_keys.c.key)).scalars())


def _secret(db: Any) -> str:
    with db.read() as tx:
        found = tx.execute(select(server_secrets.c.value).where(server_secrets.c.name == "t"))
        return str(found.scalar_one())


def _run(db: Any, *jobs: Job) -> list[tuple[bool, Any]]:
    """Run the jobs as one batch, in this thread; (ok, result or error) per job."""
    committer = db.committer
    batch = [_Queued(job) for job in jobs]
    committer.run_batch(committer._lanes[0], batch)
    outcomes = []
    for queued in batch:
        error = queued.future.exception()
        outcomes.append((error is None, error if error is not None else queued.future.result()))
    return outcomes


def _seed_secret(db: Any) -> None:
    def seed(tx: Tx) -> None:
        tx.execute(server_secrets.insert().values(name="t", value="before"))

    assert _run(db, Job(seed)) == [(True, None)]


class Refused(Exception):
    pass


def test_a_failed_job_undoes_its_buffered_read_back_and_direct_writes_alone(db: Any) -> None:
    _seed_secret(db)

    def good(key: str) -> Job:
        return Job(lambda tx: _remember(tx, key))

    def buffered_then_fails(tx: Tx) -> None:
        _remember(tx, "lost-1")
        raise Refused

    def sent_by_a_read_then_fails(tx: Tx) -> None:
        _remember(tx, "lost-2")
        assert idempotency.lookup(tx, "scope", "lost-2") is not None  # a read sends it
        raise Refused

    def direct_then_fails(tx: Tx) -> None:
        _remember(tx, "lost-3")
        tx.execute(update(server_secrets).values(value="changed"))  # a Core write, sent now
        raise Refused

    failing = (Job(buffered_then_fails), Job(sent_by_a_read_then_fails), Job(direct_then_fails))
    outcomes = _run(db, good("kept-1"), failing[0], good("kept-2"), *failing[1:], good("kept-3"))
    assert [ok for ok, _ in outcomes] == [True, False, True, False, False, True]
    assert _keys(db) == ["kept-1", "kept-2", "kept-3"]
    assert _secret(db) == "before"


def test_a_core_write_after_buffered_ones_reports_its_row_count(db: Any) -> None:
    _seed_secret(db)

    def body(tx: Tx) -> int:
        _remember(tx, "first")
        result = tx.execute(update(server_secrets).values(value="after"))
        return int(result.rowcount)

    assert _run(db, Job(lambda tx: _remember(tx, "other")), Job(body)) == [(True, None), (True, 1)]
    assert _secret(db) == "after"


def test_a_refused_bulk_write_runs_the_batch_again_job_by_job(db: Any) -> None:
    """Two jobs buffer the same new key: the bulk insert is refused, the batch runs again
    job by job, and only the second job fails (its own insert refused)."""
    outcomes = _run(db, Job(lambda tx: _remember(tx, "twice")),
                    Job(lambda tx: _remember(tx, "twice")),
                    Job(lambda tx: _remember(tx, "alone")))  # fmt: skip
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert _keys(db) == ["alone", "twice"]


def test_a_read_of_one_customer_sends_the_buffer_only_when_it_holds_that_customers_rows(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Prepared.one_customer` (the deducter's reads): a job reading its own customer's rows
    leaves other customers' buffered rows waiting, so a batch of such jobs still writes
    together; rows of the customer it reads, or rows that name no customer, go out first."""
    sends: list[int] = []
    original = Tx._send_grouped

    def counted(tx: Tx, writes: Any) -> None:
        if writes:
            sends.append(len(writes))
        original(tx, writes)

    def carry(customer: str, amount: str) -> Callable[[Tx], None]:
        return lambda tx: usage_store.set_carry(tx, customer, "credits", "api", Decimal(amount),
                                                NOW)  # fmt: skip

    seen: dict[str, Any] = {}

    def read(name: str, customer: str) -> Callable[[Tx], None]:
        def body(tx: Tx) -> None:
            seen[name] = (usage_store.carry(tx, customer), list(sends))

        return body

    monkeypatch.setattr(Tx, "_send_grouped", counted)
    outcomes = _run(
        db,
        Job(carry("a", "1.5")),
        Job(read("b-beside-a", "b")),  # a's row waits
        Job(carry("b", "2")),
        Job(read("a-own", "a")),  # a's row is buffered: a and b's rows go out first
        Job(lambda tx: _remember(tx, "k")),  # names no customer
        Job(read("c-beside-anyone", "c")),  # so it goes out before a read of c
    )
    assert [ok for ok, _ in outcomes] == [True] * 6
    assert seen["b-beside-a"] == ({}, [])
    assert seen["a-own"] == ({("credits", "api"): Decimal("1.5")}, [2])
    assert seen["c-beside-anyone"] == ({}, [2, 1])
    assert sends == [2, 1]  # nothing was left to send at the end
    with db.read() as tx:
        assert usage_store.carry(tx, "b") == {("credits", "api"): Decimal(2)}
