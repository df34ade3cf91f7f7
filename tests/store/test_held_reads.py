"""Reads on the event loop run on one held connection (`store/engine.held_read`), on both
databases: Core statements inside still work, a refused read leaves the connection usable
(no transaction left open), and a read nested in another falls back to a pooled connection.
On SQLite each is a snapshot; on PostgreSQL the connection is in autocommit mode (no
BEGIN, no COMMIT: each statement its own snapshot, as in READ COMMITTED)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from support.contexts import make_context

COUNT = text("SELECT count(*) FROM server_secrets")


@pytest.fixture(params=["sqlite", "postgres"])
def loop_db(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Any]:
    ctx = make_context(database_factory(request.param))
    loop = asyncio.new_event_loop()
    ctx.db.attach_loop(loop)  # this thread is now "the loop" for the database
    try:
        yield ctx.db
    finally:
        loop.close()
        ctx.keys.stop()
        ctx.db.close()


def _idle(conn: Any) -> bool:
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        idle = driver.info.transaction_status == TransactionStatus.IDLE
        return not conn.in_transaction() and idle and driver.autocommit
    return not conn.in_transaction() and not driver.in_transaction


def test_loop_reads_share_one_connection_and_end_their_transaction(loop_db: Any) -> None:
    with loop_db.read() as tx:
        held = tx.conn
        assert tx.execute(COUNT).scalar_one() >= 0  # a Core statement: SQLAlchemy autobegins
    assert _idle(held)
    with loop_db.read() as tx:
        assert tx.conn is held
        assert tx.execute_text("SELECT 2") == [(2,)]
    assert _idle(held)


def test_a_held_read_is_a_snapshot_on_sqlite_and_read_committed_on_postgres(
    loop_db: Any,
) -> None:
    engine = loop_db.raw_engine()
    with loop_db.read() as tx:
        before = tx.execute(COUNT).scalar_one()
        with engine.begin() as other:  # another connection commits meanwhile
            other.execute(text("INSERT INTO server_secrets (name, value) VALUES ('t', 'v')"))
        # PostgreSQL's autocommit statements each see what is committed when they run.
        seen = before if loop_db.dialect == "sqlite" else before + 1
        assert tx.execute(COUNT).scalar_one() == seen
    with loop_db.read() as tx:
        assert tx.execute(COUNT).scalar_one() == before + 1


def test_a_refused_read_leaves_the_connection_usable(loop_db: Any) -> None:
    with loop_db.read() as tx:
        held = tx.conn
    with pytest.raises(LookupError), loop_db.read() as tx:
        tx.execute(COUNT)
        raise LookupError("a 404, say")
    assert _idle(held)
    with loop_db.read() as tx:
        assert tx.conn is held
        assert tx.execute_text("SELECT 3") == [(3,)]


def test_a_nested_read_uses_a_pooled_connection(loop_db: Any) -> None:
    with loop_db.read() as outer:
        with loop_db.read() as inner:
            assert inner.conn is not outer.conn
            assert inner.execute_text("SELECT 4") == [(4,)]
        assert outer.execute_text("SELECT 5") == [(5,)]
