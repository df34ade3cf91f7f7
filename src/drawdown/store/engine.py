"""Engines, read transactions and the committer for SQLite (embedded) and PostgreSQL.

Writes never start here: every write of a process is a job on its `Committer`
(`store/committer.py`), which holds the only writing connection. Reads run on pooled
connections in short snapshot transactions. SQLite connections are configured once, when
opened (WAL, durability, busy timeout, functions); the pool keeps them open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from drawdown.store.clock import ClockGuard, probe_path
from drawdown.store.committer import Committer
from drawdown.store.prefetch import prefetch
from drawdown.store.sqlfuncs import register_sqlite_functions
from drawdown.store.tx import Tx

# Reads run in the server's thread pool; one pooled connection per thread avoids churn.
READ_POOL_SIZE = 48
SQLITE_CACHE_KIB = 16 * 1024  # per connection; pages are only allocated as they are used


class UnsupportedDatabase(ValueError):
    """The database URL names a database drawdown does not support."""


@dataclass(frozen=True)
class StoreConfig:
    """What the store needs to know from the settings."""

    database_url: str
    sqlite_synchronous: str = "FULL"
    sqlite_busy_timeout_ms: int = 30_000
    commit_batch_max: int = 64
    # PostgreSQL: writer threads per process (each its own connection and transaction),
    # so one batch's round trips overlap another's; a customer's jobs stay on one lane.
    postgres_write_lanes: int = 4
    # Writes are refused while this process's clock and the database's differ by more.
    clock_skew_max_seconds: float = 2.0


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and pick the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_url(url: str) -> str:
    """The normalized URL, or UnsupportedDatabase saying what is accepted."""
    normalized = normalize_url(url)
    try:
        backend = make_url(normalized).get_backend_name()
    except ArgumentError as exc:
        raise UnsupportedDatabase(f"cannot parse database URL {url!r}") from exc
    if backend not in ("sqlite", "postgresql"):
        raise UnsupportedDatabase(
            f"unsupported database {backend!r}; use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    return normalized


def describe_url(url: str) -> str:
    """Where a database URL points, for people: the SQLite file's path (`memory` for an
    in-memory one), or PostgreSQL's `user@host:port/database`, never its password."""
    parsed = make_url(check_url(url))
    if parsed.get_backend_name() == "sqlite":
        return sqlite_file(url) or "memory"
    user = f"{parsed.username}@" if parsed.username else ""
    return f"{user}{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(check_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def make_engine(config: StoreConfig) -> Engine:
    url = check_url(config.database_url)
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url, config)
        return create_engine(
            url,
            pool_size=READ_POOL_SIZE // 4,
            max_overflow=READ_POOL_SIZE,
            pool_use_lifo=True,  # idle connections age out; the warm ones serve
            pool_pre_ping=True,
            # Instants come back in UTC; the codecs rely on it.
            connect_args={"options": "-c timezone=UTC"},
        )
    except NoSuchModuleError as exc:
        raise UnsupportedDatabase(f"no driver for {url!r}") from exc


def _sqlite_engine(url: str, config: StoreConfig) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=READ_POOL_SIZE,
        max_overflow=READ_POOL_SIZE,
        # Most reads run one at a time on the event loop: handing back the connection used
        # last keeps one warm page cache instead of growing one per pooled connection
        # (measured: 555 MiB RSS after the 1M-entry benchmark rows with a FIFO pool).
        pool_use_lifo=True,
    )
    synchronous = config.sqlite_synchronous
    busy_timeout = int(config.sqlite_busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The default 2 MiB page cache no longer holds the indexes a write touches once a
        # ledger has grown; every miss is a read from the OS.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        if conn.info.get(LOOP_READER) and driver is not None and driver.in_transaction:
            return  # a held read (`held_read`) already began it on the driver
        write = conn.get_execution_options().get("drawdown_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def sqlite_lock_path(engine: Engine) -> str | None:
    """The writer-lock file beside a SQLite database file (None for PostgreSQL or memory)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return database + "-writer.lock"


def make_committer(
    engine: Engine, config: StoreConfig, on_batch: Any = None, clock: ClockGuard | None = None
) -> Committer:
    return Committer(
        engine,
        batch_max=config.commit_batch_max,
        prefetch=prefetch,
        lock_path=sqlite_lock_path(engine),
        on_batch=on_batch,
        lanes=config.postgres_write_lanes if engine.dialect.name == "postgresql" else 1,
        clock=clock,
    )


def clock_guard(engine: Engine, config: StoreConfig) -> ClockGuard:
    """The comparison of this process's clock with the database's (`store/clock.py`)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    return ClockGuard(config.clock_skew_max_seconds, probe_path(database))


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Tx]:
    """A read-only snapshot (one transaction, so multi-query reads are consistent)."""
    with engine.connect() as conn, conn.begin():
        yield Tx(conn)


# `Connection.info` flag of the SQLite connection the event loop holds for its reads.
LOOP_READER = "drawdown_loop_reader"


def loop_reader(engine: Engine) -> Connection:
    """A connection held for the event loop's reads (see `held_read`); on PostgreSQL in
    autocommit mode, so a read sends no BEGIN or COMMIT."""
    conn = engine.connect()
    conn.info[LOOP_READER] = True
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


@contextmanager
def held_read(conn: Connection) -> Iterator[Tx]:
    """A read on a held connection: on PostgreSQL its statements in autocommit (each its
    own snapshot, as in a READ COMMITTED transaction); on SQLite one snapshot, begun and
    ended on the driver.

    Checking a connection out of the pool and running BEGIN and COMMIT through
    SQLAlchemy's transaction machinery cost 40 µs per read (measured; 1 µs on the driver),
    a tenth of a `GET …/credits`. A Core statement inside still works: SQLAlchemy then
    autobegins its own transaction, whose BEGIN the `begin` listener skips, and it is
    ended here through SQLAlchemy instead.
    """
    if conn.dialect.name == "postgresql":
        try:
            yield Tx(conn)
        finally:
            if conn.in_transaction():  # SQLAlchemy's own marker, after a Core statement
                conn.rollback()
        return
    driver = conn.connection.driver_connection
    assert driver is not None and not driver.in_transaction
    driver.execute("BEGIN")
    try:
        yield Tx(conn)
    except BaseException:
        if conn.in_transaction():
            conn.rollback()
        elif driver.in_transaction:
            driver.execute("ROLLBACK")
        raise
    if conn.in_transaction():
        conn.commit()
    elif driver.in_transaction:
        driver.execute("COMMIT")
