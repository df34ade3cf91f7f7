"""SQLite reads on the event loop run on one held connection (`store/engine.held_read`):
each is still a snapshot, Core statements inside still work, a refused read leaves the
connection usable, and a read nested in another falls back to a pooled connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from support.contexts import make_context

COUNT = text("SELECT count(*) FROM server_secrets")


@pytest.fixture
def loop_db(database_factory: Any) -> Iterator[Any]:
    ctx = make_context(database_factory("sqlite"))
    loop = asyncio.new_event_loop()
    ctx.db.committer.attach_loop(loop)  # this thread is now "the loop" for the database
    try:
        yield ctx.db
    finally:
        loop.close()
        ctx.keys.stop()
        ctx.db.close()


def _idle(conn: Any) -> bool:
    return not conn.in_transaction() and not conn.connection.driver_connection.in_transaction


def test_loop_reads_share_one_connection_and_end_their_transaction(loop_db: Any) -> None:
    with loop_db.read() as tx:
        held = tx.conn
        assert tx.execute(COUNT).scalar_one() >= 0  # a Core statement: SQLAlchemy autobegins
    assert _idle(held)
    with loop_db.read() as tx:
        assert tx.conn is held
        assert tx.execute_text("SELECT 2") == [(2,)]
    assert _idle(held)


def test_a_held_read_is_a_snapshot(loop_db: Any) -> None:
    engine = loop_db.raw_engine()
    with loop_db.read() as tx:
        before = tx.execute(COUNT).scalar_one()
        with engine.begin() as other:  # another connection commits meanwhile
            other.execute(text("INSERT INTO server_secrets (name, value) VALUES ('t', 'v')"))
        assert tx.execute(COUNT).scalar_one() == before
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
