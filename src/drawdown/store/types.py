"""Column types that keep money exact and time in UTC on every supported database.

SQLite has no exact NUMERIC (SQLAlchemy would round-trip it through float), so
amounts are stored there as canonical decimal text; PostgreSQL gets real NUMERIC.
Datetimes are stored as UTC and always come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from drawdown.ledger.amounts import format_decimal


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal column: NUMERIC on PostgreSQL, canonical text on SQLite."""

    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        assert isinstance(value, Decimal), f"amounts must be Decimal, got {type(value)}"
        return value if dialect.name == "postgresql" else format_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; naive values are refused at bind time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        assert value.tzinfo is not None, "datetimes must be timezone-aware"
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            # SQLite stores naive UTC text; parsing an offset beats `.replace(tzinfo=UTC)`.
            return datetime.fromisoformat(value + "+00:00")
        instant: datetime = value
        if instant.tzinfo is None:
            return instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
