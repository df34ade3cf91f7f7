"""SQLite reads a customer's undeducted events from the index of undeducted events, not by
walking the customer's whole history (it has no statistics to tell which is smaller): the
deducter's read and the console's pending usage cost the same at any history length."""

from __future__ import annotations

from typing import Any

import pytest

from drawdown.store import usage
from drawdown.store.prepared import Prepared
from support.contexts import make_context


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (usage._DUE_EVENTS, {"customer_id": "c", "cutoff": "2026-01-01 00:00:00", "limit": 10}),
        (usage._PENDING_EVENTS, {"customer_id": "c", "limit": 10}),
    ],
    ids=["due", "pending"],
)
def test_undeducted_events_are_read_from_their_index(
    statement: Prepared, params: dict[str, Any], database_factory: Any
) -> None:
    ctx = make_context(database_factory("sqlite"))
    try:
        with ctx.db.read() as tx:
            sql = "EXPLAIN QUERY PLAN " + statement.sql("sqlite")
            bound = {**statement.constants("sqlite"), **params}
            plan = [row[-1] for row in tx.conn.exec_driver_sql(sql, bound).all()]
    finally:
        ctx.keys.stop()
        ctx.db.close()
    assert plan[0].startswith("SEARCH usage_events USING INDEX ix_usage_events_customer "), plan
