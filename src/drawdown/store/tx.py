"""`Tx`: the one transaction handle services hold, so they never import SQLAlchemy.

It offers two ways to run SQL inside the same database transaction: Core statements
(`execute`, most queries) and prepared statements on the raw driver cursor (`rows`,
`write`, `write_many`: the hot write and list paths, see `store/prepared.py`).
"""

from __future__ import annotations

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

    def execute(
        self, statement: Executable, params: Params | Sequence[Params] | None = None
    ) -> Any:
        """Run a Core statement (returns SQLAlchemy's result; use `.mappings()` etc.)."""
        result: CursorResult[Any] = self.conn.execute(statement, params)
        return result

    def insert_unless_duplicate(self, statement: Executable) -> bool:
        """Run a write in a savepoint; False (and nothing written) if a unique key refused it.

        The database, not an earlier lookup, decides races between concurrent writers; the
        savepoint keeps the surrounding transaction usable afterwards.
        """
        try:
            with self.conn.begin_nested():
                self.conn.execute(statement)
        except IntegrityError:
            return False
        return True

    def execute_text(self, sql: str) -> list[tuple[Any, ...]]:
        """Run literal SQL without parameters (health checks, maintenance)."""
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
        cursor = self._driver.cursor()
        self._run(cursor, statement, params)
        while batch := cursor.fetchmany(size):
            yield list(batch)

    def write(self, statement: Prepared, params: Params) -> int:
        cursor = self._raw()
        self._run(cursor, statement, params)
        return int(cursor.rowcount)

    def write_many(self, statement: Prepared, params: Sequence[Params]) -> None:
        if params:
            self._raw().executemany(statement.sql(self.dialect), params)

    def savepoint(self, name: str) -> None:
        self._raw().execute(f"SAVEPOINT {name}")

    def release(self, name: str) -> None:
        self._raw().execute(f"RELEASE SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self._raw().execute(f"ROLLBACK TO SAVEPOINT {name}")
