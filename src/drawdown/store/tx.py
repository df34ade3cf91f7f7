"""`Tx`: the one transaction handle services hold, so they never import SQLAlchemy.

It offers two ways to run SQL inside the same database transaction: Core statements
(`execute`, most queries) and prepared statements on the raw driver cursor (`rows`,
`write`, `write_many`: the hot write and list paths, see `store/prepared.py`).

On PostgreSQL, prepared writes and savepoints are *pipelined* (psycopg's pipeline mode):
they are sent without waiting for their answers, which arrive together with the next read,
or when a job's savepoint is released. A decrement then costs four round trips instead of
twelve. An error in a pipelined write surfaces at that next read or release, still inside
the job that caused it, so the job's savepoint rolls it back as before. Core statements
(which may look at row counts) always run outside a pipeline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from drawdown.store.codec import Codec, codec_for
from drawdown.store.prepared import Prepared

Params = Mapping[str, Any]


class Tx:
    """An open database transaction (a read snapshot or a write), on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect: str = conn.dialect.name
        self.postgres = self.dialect == "postgresql"
        self.codec: Codec = codec_for(self.dialect)
        driver = conn.connection.driver_connection
        assert driver is not None
        self._driver = driver
        self._cursor: Any = None
        self._pipeline: Any = None  # psycopg's pipeline context while writes are in flight

    def execute(
        self, statement: Executable, params: Params | Sequence[Params] | None = None
    ) -> Any:
        """Run a Core statement (returns SQLAlchemy's result; use `.mappings()` etc.)."""
        self.flush()
        result: CursorResult[Any] = self.conn.execute(statement, params)
        return result

    def insert_unless_duplicate(self, statement: Executable) -> bool:
        """Run a write in a savepoint; False (and nothing written) if a unique key refused it.

        The database, not an earlier lookup, decides races between concurrent writers; the
        savepoint keeps the surrounding transaction usable afterwards.
        """
        self.flush()
        try:
            with self.conn.begin_nested():
                self.conn.execute(statement)
        except IntegrityError:
            return False
        return True

    def execute_text(self, sql: str) -> list[tuple[Any, ...]]:
        """Run literal SQL without parameters (health checks, maintenance)."""
        self.flush()
        return list(self.conn.exec_driver_sql(sql).all())

    def _raw(self) -> Any:
        if self._cursor is None:
            self._cursor = self._driver.cursor()
        return self._cursor

    def _run(self, cursor: Any, statement: Prepared, params: Params) -> None:
        constants = statement.constants(self.dialect)
        cursor.execute(
            statement.sql(self.dialect), {**constants, **params} if constants else params
        )

    def rows(self, statement: Prepared, params: Params) -> list[tuple[Any, ...]]:
        cursor = self._raw()
        self._run(cursor, statement, params)
        return list(cursor.fetchall())

    def one(self, statement: Prepared, params: Params) -> tuple[Any, ...] | None:
        cursor = self._raw()
        self._run(cursor, statement, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row

    def batches(
        self, statement: Prepared, params: Params, *, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows in batches of `size`, on a cursor of their own (for long scans)."""
        self.flush()
        cursor = self._driver.cursor()
        self._run(cursor, statement, params)
        while batch := cursor.fetchmany(size):
            yield list(batch)

    def write(self, statement: Prepared, params: Params) -> None:
        """A prepared write whose answer is not needed (pipelined on PostgreSQL)."""
        self._pipelined()
        self._run(self._raw(), statement, params)

    def write_many(self, statement: Prepared, params: Sequence[Params]) -> None:
        if params:
            self._pipelined()
            self._raw().executemany(statement.sql(self.dialect), params)

    def savepoint(self, name: str) -> None:
        self._pipelined()
        self._raw().execute(f"SAVEPOINT {name}")

    def release(self, name: str) -> None:
        """Release a savepoint; every pipelined write before it has then been answered."""
        self._raw().execute(f"RELEASE SAVEPOINT {name}")
        self.flush()

    def rollback_to(self, name: str) -> None:
        with contextlib.suppress(Exception):  # the failure being rolled back, raised once
            self.flush()
        self._raw().execute(f"ROLLBACK TO SAVEPOINT {name}")

    def flush(self) -> None:
        """Wait for every pipelined statement's answer; raises the first one that failed."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(None, None, None)

    def _pipelined(self) -> None:
        if self.postgres and self._pipeline is None:
            pipeline = self._driver.pipeline()
            pipeline.__enter__()
            self._pipeline = pipeline
