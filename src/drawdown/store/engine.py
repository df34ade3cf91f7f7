"""Engines and transactions for SQLite (embedded default) and PostgreSQL.

Write transactions serialize per customer: on PostgreSQL by locking the customer
row (`SELECT ... FOR UPDATE`, see `lock_customer`), on SQLite by taking the
database write lock up front (`BEGIN IMMEDIATE`), which also serializes writers
from several processes sharing one file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.exc import IntegrityError

from drawdown.settings import Settings
from drawdown.store.sqlfuncs import register_sqlite_functions


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and pick the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings) -> Engine:
    url = normalize_url(settings.database_url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_engine(url: str, settings: Settings) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=10)
    durable = settings.sqlite_synchronous

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        synchronous = "NORMAL" if options.get("drawdown_bookkeeping") else durable
        conn.exec_driver_sql(f"PRAGMA synchronous={synchronous}")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("drawdown_write") else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine, *, bookkeeping: bool = False) -> Iterator[Connection]:
    """A transaction that will write; on SQLite it holds the write lock from the start.

    `bookkeeping` transactions (idempotency claims and records, key last-use times) skip
    SQLite's fsync at commit: WAL frames are durable once any later commit syncs, and
    losing one in a power cut leaves a key "in progress", which refuses retries rather
    than repeating a write. Ledger writes always use the configured durability.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(drawdown_write=True, drawdown_bookkeeping=bookkeeping)
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only snapshot (one transaction, so multi-query reads are consistent)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def execute_unless_duplicate(conn: Connection, statement: Executable) -> bool:
    """Run a write in a savepoint; False (and nothing written) if a unique key refused it.

    The database, not an earlier lookup, decides races between concurrent writers; the
    savepoint keeps the surrounding transaction usable afterwards.
    """
    try:
        with conn.begin_nested():
            conn.execute(statement)
    except IntegrityError:
        return False
    return True
