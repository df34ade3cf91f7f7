"""Exact decimal comparison in SQL on both databases, and lists as one parameter.

PostgreSQL compares NUMERIC natively. SQLite stores amounts as text, so comparisons
go through a small Python function registered on each connection (`dd_dec_cmp`).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.engine import Dialect

from drawdown.store.types import ExactDecimal


def dec_cmp(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    left, right = Decimal(a), Decimal(b)
    return (left > right) - (left < right)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function("dd_dec_cmp", 2, dec_cmp, deterministic=True)


# Range-filter operators by their query-string names (`created_at[gte]=…`). The `operator`
# functions work on SQL columns and plain Python values alike.
COMPARISONS = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
    "eq": operator.eq,
}  # fmt: skip


def before(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after a keyset cursor in a descending list: `(columns) < (values)`, one row-value
    comparison that both databases answer as a range of an index in that order."""
    result: ColumnElement[bool] = tuple_(*columns) < tuple_(*values)
    return result


def compare(left: Any, op: str, right: Any) -> Any:
    """`left <op> right` for a range-filter op name (gt, gte, lt, lte, eq)."""
    return COMPARISONS[op](left, right)


def decimal_compare(
    column: Any, op: str, value: Any, dialect: Dialect | str
) -> ColumnElement[bool]:
    """`column <op> value` (op in gt/gte/lt/lte/eq), exact on both databases.

    `value` is a Decimal or an already named bind parameter (prepared statements).
    """
    bound = (
        value if isinstance(value, BindParameter) else bindparam(None, value, type_=ExactDecimal)
    )
    name = dialect if isinstance(dialect, str) else dialect.name
    if name == "postgresql":
        result: ColumnElement[bool] = compare(column, op, bound)
        return result
    at_least: ColumnElement[bool] = compare(func.dd_dec_cmp(column, bound, type_=Integer), op, 0)
    return at_least


def in_list(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """`column IN <the strings of parameter name>`, with the whole list as one parameter, so
    one prepared statement serves a batch of any size: an array on PostgreSQL, a JSON
    array on SQLite (`Codec.texts` encodes it)."""
    if dialect == "postgresql":
        result: ColumnElement[bool] = column == func.any(bindparam(name))
        return result
    values: Any = select(literal_column("value")).select_from(func.json_each(bindparam(name)))
    within: ColumnElement[bool] = column.in_(values.scalar_subquery())
    return within
