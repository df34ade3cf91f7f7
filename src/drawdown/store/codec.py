"""Values to and from the driver for statements run on the raw DBAPI cursor.

The hot write path runs SQL compiled once from the Core tables (`store/prepared.py`) on
the driver's own cursor, which skips SQLAlchemy's per-execution machinery (measured: 18 µs
per statement through `Connection.execute`, 2.5 µs on the raw cursor). These codecs write
exactly what the Core column types in `store/types.py` write, so rows written either way
read back the same: on SQLite amounts are canonical decimal text and instants naive UTC
text, on PostgreSQL NUMERIC and timestamptz.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from drawdown.ledger.amounts import format_decimal


def _sqlite_instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    assert value.tzinfo is not None, "datetimes must be timezone-aware"
    # SQLAlchemy's SQLite DATETIME format, so Core reads and SQL comparisons agree.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_read_instant(value: Any) -> datetime:
    # Parsing the offset is five times faster than `.replace(tzinfo=UTC)` afterwards, and
    # gives the same `timezone.utc` object.
    return datetime.fromisoformat(value + "+00:00")


def _sqlite_read_optional_instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def _sqlite_decimal(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _sqlite_read_optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _sqlite_json(value: Any) -> str:
    return json.dumps(value)


def _sqlite_read_json(value: Any) -> Any:
    # Most stored documents are empty; skipping the parser for them is a measurable share of
    # a write, which reads a customer and its open blocks.
    if value is None or value == "null":
        return None
    if value == "{}":
        return {}
    if value == "[]":
        return []
    return json.loads(value)


def _pg_instant(value: datetime | None) -> datetime | None:
    assert value is None or value.tzinfo is not None, "datetimes must be timezone-aware"
    return value


def _pg_read_instant(value: datetime) -> datetime:
    # Connections run with TimeZone=UTC, so psycopg already returns tzinfo UTC.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _pg_read_optional_instant(value: datetime | None) -> datetime | None:
    return None if value is None else _pg_read_instant(value)


def _identity(value: Any) -> Any:
    return value


def _sqlite_texts(values: Sequence[str]) -> str:
    return json.dumps(list(values))


def _pg_texts(values: Sequence[str]) -> list[str]:
    return list(values)


@dataclass(frozen=True)
class Codec:
    """Encoders (Python → driver) and decoders (driver → Python) for one dialect."""

    dialect: str
    instant: Callable[[datetime | None], Any]
    read_instant: Callable[[Any], datetime]  # for NOT NULL columns
    read_optional_instant: Callable[[Any], datetime | None]
    decimal: Callable[[Decimal | None], Any]
    read_decimal: Callable[[Any], Decimal]  # for NOT NULL columns
    read_optional_decimal: Callable[[Any], Decimal | None]
    json: Callable[[Any], Any]
    read_json: Callable[[Any], Any]
    boolean: Callable[[bool], Any]
    texts: Callable[[Sequence[str]], Any]  # a list as one parameter (`sqlfuncs.in_list`)


SQLITE = Codec(
    dialect="sqlite",
    instant=_sqlite_instant,
    read_instant=_sqlite_read_instant,
    read_optional_instant=_sqlite_read_optional_instant,
    decimal=_sqlite_decimal,
    read_decimal=Decimal,
    read_optional_decimal=_sqlite_read_optional_decimal,
    json=_sqlite_json,
    read_json=_sqlite_read_json,
    boolean=int,
    texts=_sqlite_texts,
)

POSTGRES = Codec(
    dialect="postgresql",
    instant=_pg_instant,
    read_instant=_pg_read_instant,
    read_optional_instant=_pg_read_optional_instant,
    decimal=_identity,
    read_decimal=_identity,
    read_optional_decimal=_identity,
    json=Jsonb,
    read_json=_identity,
    boolean=bool,
    texts=_pg_texts,
)


def codec_for(dialect: str) -> Codec:
    return POSTGRES if dialect == "postgresql" else SQLITE
