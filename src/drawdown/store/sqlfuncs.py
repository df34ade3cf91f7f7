"""Exact decimal comparison in SQL on both databases.

PostgreSQL compares NUMERIC natively. SQLite stores amounts as text, so comparisons
go through a small Python function registered on each connection (`dd_dec_cmp`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, func
from sqlalchemy.engine import Dialect

from drawdown.store.types import ExactDecimal


def dec_cmp(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    left, right = Decimal(a), Decimal(b)
    return (left > right) - (left < right)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function("dd_dec_cmp", 2, dec_cmp, deterministic=True)


def _ordered(left: Any, op: str, right: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = {
        "gt": left > right, "gte": left >= right, "lt": left < right,
        "lte": left <= right, "eq": left == right,
    }[op]  # fmt: skip
    return result


def decimal_compare(column: Any, op: str, value: Decimal, dialect: Dialect) -> ColumnElement[bool]:
    """`column <op> value` (op in gt/gte/lt/lte/eq), exact on both databases."""
    bound = bindparam(None, value, type_=ExactDecimal)
    if dialect.name == "postgresql":
        return _ordered(column, op, bound)
    return _ordered(func.dd_dec_cmp(column, bound, type_=Integer), op, 0)


def decimal_at_least(column: Any, value: Decimal, dialect: Dialect) -> ColumnElement[bool]:
    return decimal_compare(column, "gte", value, dialect)
