"""Usage rows: the price the `usage` server deducts with, check events, and deduction lags.

The lag of an event is `deducted_at − accepted_at` as the server recorded them (both taken
from the server's clock: the instant its ingest request was checked, and the instant of the
write job that drew the credits and marked the event), read from the database once every
event of the row is deducted.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from benchmarks import seed
from drawdown.app import build_context
from drawdown.services.usage import catalogue
from drawdown.settings import Settings
from drawdown.store.schema import usage_events

EVENT_NAME = "api_call"


def price_catalogue(database_url: str) -> None:
    """One item and a price for the events ingest.lua sends: 0.001 credits per call."""
    ctx = build_context(Settings(database_url=database_url), migrate=False)
    try:
        catalogue.add_item("api", "API calls").run(ctx)
        catalogue.add_price(ctx, item_id="api", event_name=EVENT_NAME, metric="count",
                            credits_per_unit="0.001").run(ctx)  # fmt: skip
    finally:
        ctx.db.close()


def event(customer_id: str, tag: str) -> dict[str, Any]:
    return {"idempotency_key": f"{tag}-{uuid.uuid4().hex}", "event_name": EVENT_NAME,
            "timestamp": datetime.now(UTC).isoformat(), "customer_id": customer_id,
            "properties": {"n": 1}}  # fmt: skip


def wait_for_lags(database_url: str, seconds_max: float) -> list[float]:
    """Every event's lag in ms, once none is left undeducted (or after ``seconds_max``)."""
    deadline = time.monotonic() + seconds_max
    e = usage_events.c
    with seed.opened(database_url) as db:
        while time.monotonic() < deadline:
            with db.read() as tx:
                left = tx.execute(select(func.count()).where(e.deduction_id.is_(None))).scalar()
            if not left:
                break
            time.sleep(0.2)
        with db.read() as tx:
            rows = tx.execute(select(e.accepted_at, e.deducted_at)).all()
    if any(row.deducted_at is None for row in rows):
        raise RuntimeError(f"events still undeducted after {seconds_max:.0f} s")
    return sorted((row.deducted_at - row.accepted_at).total_seconds() * 1000 for row in rows)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    assert values, "no lags measured"
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]
