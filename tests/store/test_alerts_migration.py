"""Migration 0008 on both databases: a customer's `balance_alert_thresholds` become one
`credit_balance_dropped` alert per ledger, existing ledgers get the depleted / recovered
alerts some live endpoint received events for, customers with alerts are flagged, and the
downgrade puts the thresholds back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from drawdown.store.engine import normalize_url
from drawdown.store.migrate import alembic_config

T0 = datetime(2026, 1, 1)


def _migrate(engine: sa.Engine, verb: str, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, verb)(config, revision)


def _json(value: Any) -> Any:
    """A JSON column read with plain SQL: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def _table(conn: sa.Connection, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def _customer(conn: sa.Connection, customer_id: str, thresholds: Any, **extra: Any) -> None:
    conn.execute(_table(conn, "customers").insert().values(
        id=customer_id, name=customer_id, email=f"{customer_id}@x.test", timezone="UTC",
        metadata={}, auto_collection=False, email_delivery=True, additional_emails=[],
        created_at=T0, balance_alert_thresholds=thresholds, **extra,
    ))  # fmt: skip


def _seed(conn: sa.Connection) -> None:
    _customer(conn, "a", [{"currency": "credits", "value": "50"},
                          {"currency": "credits", "value": "20.5"},
                          {"currency": "tokens", "value": "5"}])  # fmt: skip
    _customer(conn, "b", None)
    _customer(conn, "gone", [{"currency": "credits", "value": "1"}], deleted_at=T0)
    ledgers = _table(conn, "ledgers")
    for customer_id, currency in (("a", "credits"), ("b", "credits"), ("b", "USD"),
                                  ("gone", "credits")):  # fmt: skip
        conn.execute(ledgers.insert().values(customer_id=customer_id, currency=currency,
                                             last_seq=0, balance=0))  # fmt: skip
    endpoints = _table(conn, "webhook_endpoints")
    depleted = ["customer.credit_balance_depleted"]
    conn.execute(endpoints.insert().values(id="e1", url="http://x", secret="s", created_at=T0,
                                           events=depleted))  # fmt: skip
    conn.execute(endpoints.insert().values(id="e2", url="http://y", secret="s", created_at=T0,
                                           events=None, deleted_at=T0))  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_thresholds_and_implicit_events_become_alerts(database_factory: Any, backend: str) -> None:
    engine = sa.create_engine(normalize_url(database_factory(backend)))
    try:
        _migrate(engine, "upgrade", "0007")
        with engine.begin() as conn:
            _seed(conn)
        _migrate(engine, "upgrade", "0008")
        with engine.connect() as conn:
            alerts = conn.execute(sa.text(
                "SELECT customer_id, type, currency, enabled, thresholds, deleted_at, id "
                "FROM alerts"
            )).all()  # fmt: skip
            flags = dict(conn.execute(sa.text("SELECT id, balance_alerts FROM customers")).all())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("customers")}
        got = sorted((c, t, cur, bool(e), _json(th), d) for c, t, cur, e, th, d, _ in alerts)
        # Only the depleted type is wanted by a live endpoint (e2, which wanted all, is gone);
        # the deleted customer gets nothing.
        assert got == sorted([
            ("a", "credit_balance_depleted", "credits", True, [], None),
            ("a", "credit_balance_dropped", "credits", True, ["20.5", "50"], None),
            ("a", "credit_balance_dropped", "tokens", True, ["5"], None),
            ("b", "credit_balance_depleted", "USD", True, [], None),
            ("b", "credit_balance_depleted", "credits", True, [], None),
        ])  # fmt: skip
        assert all(len(row[6]) == 16 and row[6].isalnum() for row in alerts)
        assert {k: bool(v) for k, v in flags.items()} == {"a": True, "b": True, "gone": False}
        assert "balance_alert_thresholds" not in columns and "balance_alerts" in columns
        _migrate(engine, "downgrade", "0007")
        with engine.connect() as conn:
            query = "SELECT id, balance_alert_thresholds FROM customers WHERE id = 'a'"
            back = dict(conn.execute(sa.text(query)).all())
        assert _json(back["a"]) == [
            {"currency": "credits", "value": "20.5"},
            {"currency": "credits", "value": "50"},
            {"currency": "tokens", "value": "5"},
        ]
    finally:
        engine.dispose()
