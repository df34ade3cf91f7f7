"""Usage rows: the price the `usage` server deducts with, check events, deduction lags, and
the corrections rows (an amendment of deducted usage, the close of a 10,000-event backfill).

The lag of an event is `deducted_at − accepted_at` as the server recorded them (both taken
from the server's clock: the instant its ingest request was checked, and the instant of the
write job that drew the credits and marked the event), read from the database once every
event of the row is deducted.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from benchmarks import seed
from drawdown.app import build_context
from drawdown.services.usage import catalogue
from drawdown.settings import Settings
from drawdown.store.schema import usage_events

EVENT_NAME = "api_call"
UNITS_EVENT = "unit_call"  # priced by a sum: amending its quantity changes the usage
BATCH = 500


def price_catalogue(database_url: str) -> None:
    """One item and a price for the events ingest.lua sends: 0.001 credits per call."""
    ctx = build_context(Settings(database_url=database_url), migrate=False)
    try:
        catalogue.add_item("api", "API calls").run(ctx)
        catalogue.add_price(ctx, item_id="api", event_name=EVENT_NAME, metric="count",
                            credits_per_unit="0.001").run(ctx)  # fmt: skip
        catalogue.add_item("units", "Units").run(ctx)
        catalogue.add_price(ctx, item_id="units", event_name=UNITS_EVENT, metric="sum:n",
                            credits_per_unit="0.001").run(ctx)  # fmt: skip
    finally:
        ctx.db.close()


def event(customer_id: str, tag: str) -> dict[str, Any]:
    return {"idempotency_key": f"{tag}-{uuid.uuid4().hex}", "event_name": EVENT_NAME,
            "timestamp": datetime.now(UTC).isoformat(), "customer_id": customer_id,
            "properties": {"n": 1}}  # fmt: skip


def wait_for_lags(database_url: str, seconds_max: float, key_prefix: str) -> list[float]:
    """The lag in ms of every event whose idempotency key starts with ``key_prefix`` (one
    row's), once none of them is left undeducted (or after ``seconds_max``)."""
    deadline = time.monotonic() + seconds_max
    e = usage_events.c
    ours = e.idempotency_key.startswith(key_prefix, autoescape=True)
    with seed.opened(database_url) as db:
        while time.monotonic() < deadline:
            with db.read() as tx:
                waiting = select(func.count()).where(ours, e.deduction_id.is_(None))
                if not tx.execute(waiting).scalar():
                    break
            time.sleep(0.2)
        with db.read() as tx:
            rows = tx.execute(select(e.accepted_at, e.deducted_at).where(ours)).all()
    if any(row.deducted_at is None for row in rows):
        raise RuntimeError(f"events still undeducted after {seconds_max:.0f} s")
    return sorted((row.deducted_at - row.accepted_at).total_seconds() * 1000 for row in rows)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    assert values, "no lags measured"
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


def wait_until_deducted(database_url: str, seconds_max: float) -> None:
    """Until no live event is left undeducted (the `usage` server has no grace period)."""
    deadline = time.monotonic() + seconds_max
    e = usage_events.c
    waiting = select(func.count()).where(e.deduction_id.is_(None), e.status == "live")
    with seed.opened(database_url) as db:
        while time.monotonic() < deadline:
            with db.read() as tx:
                if not tx.execute(waiting).scalar():
                    return
            time.sleep(0.1)
    raise RuntimeError(f"events still undeducted after {seconds_max:.0f} s")


def ingest_units(http: Any, customer_id: str, stamps: list[datetime], tag: str,
                 params: dict[str, str] | None = None) -> list[str]:  # fmt: skip
    """One `unit_call` event per instant (n=5), in batches; returns their ids."""
    keys = [f"{tag}-{uuid.uuid4().hex[:12]}-{i}" for i in range(len(stamps))]
    for start in range(0, len(keys), BATCH):
        batch = [{"idempotency_key": key, "event_name": UNITS_EVENT, "customer_id": customer_id,
                  "timestamp": at.isoformat(), "properties": {"n": 5}}
                 for key, at in zip(keys[start : start + BATCH], stamps[start : start + BATCH],
                                    strict=True)]  # fmt: skip
        answer = http.post("/v1/ingest", json={"events": batch}, params=params or {})
        if answer.status_code != 200:
            raise RuntimeError(f"ingest answered {answer.status_code}: {answer.text[:200]}")
    return keys


def amendable(http: Any, database_url: str, customers: list[str], per_customer: int,
              out: Any) -> None:  # fmt: skip
    """Deducted `unit_call` events of ``customers``, listed in ``out`` for amend.lua as
    "event_id customer_id timestamp" lines."""
    now = datetime.now(UTC)
    lines = []
    for customer_id in customers:
        stamps = [now - timedelta(microseconds=i + 1) for i in range(per_customer)]
        keys = ingest_units(http, customer_id, stamps, "amend")
        lines += [f"{k} {customer_id} {at.isoformat()}" for k, at in zip(keys, stamps, strict=True)]
    wait_until_deducted(database_url, 60)
    out.write_text("\n".join(lines) + "\n")


def backfill_close_ms(http: Any, database_url: str, customer_id: str, events: int) -> float:
    """Milliseconds of `POST …/close` for a backfill of ``events`` events that replaces as
    many deducted ones (the usage of both is priced, the ledger moves by the difference)."""
    start = datetime.now(UTC) - timedelta(seconds=1)
    stamps = [start + timedelta(microseconds=i) for i in range(events)]
    ingest_units(http, customer_id, stamps, "live")
    wait_until_deducted(database_url, 120)
    window = {"timeframe_start": start.isoformat(),
              "timeframe_end": (start + timedelta(seconds=1)).isoformat(),
              "customer_id": customer_id, "replace_existing_events": True}  # fmt: skip
    created = http.post("/v1/events/backfills", json=window)
    if created.status_code != 201:
        raise RuntimeError(f"backfill answered {created.status_code}: {created.text[:200]}")
    backfill_id = created.json()["id"]
    ingest_units(http, customer_id, stamps, "backfill", {"backfill_id": backfill_id})
    started = time.perf_counter()
    closed = http.post(f"/v1/events/backfills/{backfill_id}/close")
    elapsed = (time.perf_counter() - started) * 1000
    body = closed.json()
    if closed.status_code != 200 or (body["status"], body["events_ingested"]) != (
        "reflected",
        events,
    ):
        raise RuntimeError(f"close answered {closed.status_code}: {closed.text[:200]}")
    return elapsed
