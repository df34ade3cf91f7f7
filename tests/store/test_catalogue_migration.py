"""Migration 0009 on a catalogue made before it (SQLite and PostgreSQL): every existing price
keeps its meaning. Each (item, event name, metric) gets a billable metric, each version ends
where the next version of its (item, event name) line starts and names it as replaced, and
the catalogue prices events exactly as it did before the migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine

from drawdown.ledger.usage import (
    Catalogue,
    PriceVersion,
    UsageEvent,
    parse_metric,
    price_events,
)
from drawdown.store import catalogue as catalogue_store
from drawdown.store import usage as usage_store
from drawdown.store.engine import normalize_url
from drawdown.store.migrate import alembic_config, upgrade
from drawdown.store.tx import Tx
from drawdown.store.types import ExactDecimal, UTCDateTime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ITEMS = sa.table("usage_items", sa.column("id"), sa.column("name"),
                 sa.column("created_at", UTCDateTime()))  # fmt: skip
PRICES = sa.table(
    "usage_prices", sa.column("id"), sa.column("item_id"), sa.column("event_name"),
    sa.column("currency"), sa.column("metric"), sa.column("credits_per_unit", ExactDecimal()),
    sa.column("effective_from", UTCDateTime()), sa.column("created_at", UTCDateTime()),
)  # fmt: skip
LEGACY = [  # id, item, event name, metric, credits per unit, effective from (hours after T0)
    ("p1", "api", "api_call", "count", "1", 0),
    ("p2", "api", "api_call", "sum:n", "2", 5),  # a new version that changed the metric
    ("p3", "api", "api_call", "count", "3", 9),
    ("p4", "gpu", "gpu_job", "sum:seconds", "0.25", 1),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_existing_prices_keep_their_meaning(database_factory: Any, backend: str) -> None:
    engine = create_engine(normalize_url(database_factory(backend)))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
        conn.execute(
            ITEMS.insert(),
            [
                {"id": "api", "name": "API calls", "created_at": T0},
                {"id": "gpu", "name": "GPU", "created_at": T0},
            ],
        )
        conn.execute(PRICES.insert(), [
            {"id": pid, "item_id": item, "event_name": name, "currency": "credits",
             "metric": metric, "credits_per_unit": Decimal(rate),
             "effective_from": T0 + timedelta(hours=hours), "created_at": T0}
            for pid, item, name, metric, rate, hours in LEGACY
        ])  # fmt: skip
    # What the catalogue read before 0009: versions without end, lines by (event, item).
    before = _priced([PriceVersion(pid, item, name, "credits", parse_metric(metric),
                                   Decimal(rate), T0 + timedelta(hours=hours))
                      for pid, item, name, metric, rate, hours in LEGACY])  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        tx = Tx(conn)
        versions = {v.id: v for v in usage_store.prices(tx)}
        records = {pid: catalogue_store.price(tx, pid) for pid in versions}
        metrics = {r.billable_metric_id: catalogue_store.metric(tx, r.billable_metric_id)
                   for r in records.values() if r and r.billable_metric_id}  # fmt: skip
        assert _priced(list(versions.values())) == before
    engine.dispose()
    until = {pid: v.effective_until for pid, v in versions.items()}
    assert until == {"p1": T0 + timedelta(hours=5), "p2": T0 + timedelta(hours=9),
                     "p3": None, "p4": None}  # fmt: skip
    replaced = {pid: r.replaces_price_id for pid, r in records.items() if r}
    assert replaced == {"p1": None, "p2": "p1", "p3": "p2", "p4": None}
    assert {r.name for r in records.values() if r} == {"API calls", "GPU"}
    sqls = sorted(m.sql for m in metrics.values() if m)
    assert sqls == [
        "SELECT COUNT(*) FROM events WHERE event_name = 'api_call'",
        "SELECT SUM(\"n\") FROM events WHERE event_name = 'api_call'",
        "SELECT SUM(\"seconds\") FROM events WHERE event_name = 'gpu_job'",
    ]
    assert records["p1"].billable_metric_id == records["p3"].billable_metric_id  # type: ignore[union-attr]


def _priced(versions: Any) -> dict[Any, Decimal]:
    events = [UsageEvent(f"{name}{h}", name, T0 + timedelta(hours=h), {"n": 10, "seconds": 8})
              for h in range(12) for name in ("api_call", "gpu_job")]  # fmt: skip
    return {key: charge.amount for key, charge in price_events(events, Catalogue(versions)).items()}
