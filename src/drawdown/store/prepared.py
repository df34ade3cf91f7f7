"""Core statements compiled once per dialect, for the raw-cursor hot path.

The SQL text still comes from the Core tables in `store/schema.py` (one source for the
schema); only the execution skips SQLAlchemy. Parameters are named (`:name` on SQLite,
`%(name)s` on PostgreSQL) and must already be encoded with the dialect's `Codec`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

_DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="named"),
    "postgresql": postgresql.dialect(paramstyle="pyformat"),  # type: ignore[no-untyped-call]
}


class Prepared:
    """A statement built lazily from Core and compiled to SQL text per dialect.

    `build` takes no argument, or (with `per_dialect=True`) the dialect name, for the few
    statements whose shape differs between SQLite and PostgreSQL. `sqlite_rewrite` edits
    the SQLite text (for `INDEXED BY`, which SQLAlchemy does not render).

    A write with a `bulk_rank` may wait in a bulk `Tx`'s buffer and be sent with the rest of
    its batch (`store/tx.py`); buffered writes go out in rank order, so a rank must come
    after the ranks of every table its rows refer to (`store/ranks.py` lists them).

    A read marked `one_customer` reads only rows of the customer its `customer_id` parameter
    names, in every table it reads: a bulk `Tx` runs it without first sending the buffered
    writes when none of them is that customer's (they cannot change what it reads).
    """

    def __init__(
        self,
        build: Callable[..., Any],
        *,
        postgres_suffix: str = "",
        per_dialect: bool = False,
        sqlite_rewrite: Callable[[str], str] | None = None,
        bulk_rank: int | None = None,
        one_customer: bool = False,
    ) -> None:
        self._build = build
        self.bulk_rank = bulk_rank
        self.one_customer = one_customer
        self._postgres_suffix = postgres_suffix
        self._sqlite_rewrite = sqlite_rewrite
        self._per_dialect = per_dialect
        self._sql: dict[str, tuple[str, dict[str, object]]] = {}

    def sql(self, dialect: str) -> str:
        return self._compiled(dialect)[0]

    def constants(self, dialect: str) -> dict[str, object]:
        """Values of the literals Core turned into anonymous parameters (e.g. 'increment')."""
        return self._compiled(dialect)[1]

    def _compiled(self, dialect: str) -> tuple[str, dict[str, object]]:
        found = self._sql.get(dialect)
        if found is None:
            statement = self._build(dialect) if self._per_dialect else self._build()
            compiled = statement.compile(dialect=_DIALECTS[dialect])
            text = str(compiled)
            if dialect == "postgresql":
                text += self._postgres_suffix
            elif self._sqlite_rewrite is not None:
                text = self._sqlite_rewrite(text)
            constants = {k: v for k, v in compiled.params.items() if v is not None}
            found = self._sql[dialect] = (text, constants)
        return found
