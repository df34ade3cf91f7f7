"""kill -9 while usage is ingested and deducted (issue 15: exactly once under a crash).

Ingesters send batches of usage events (`POST /v1/ingest`, each event with its own
idempotency key) to a server that deducts accepted usage at once (no grace period), while
the server is SIGKILLed and restarted on the same database. A deduction commits its
decrement and marks its events in one transaction, so a kill in the middle of one leaves
either both or neither. Afterwards every batch is sent again, as a client whose request
failed would, and once the deduction worker has caught up:

* every event is stored once and deducted once (each has a deduction, none is pending);
* each customer's usage decrements add up, to the last decimal, to its priced usage;
* every deduction wrote one decrement (one funded block per customer), none wrote two;
* `drawdown verify` is clean.

CI: 1 kill per database. `DRAWDOWN_LONG=1`: 10 kills per database.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from conftest import BACKENDS, run_cli
from reliability.rel_support import Served, scale, verify_clean

pytestmark = pytest.mark.slow

INGESTERS = 4
CUSTOMERS = 4
BATCH = 25
PRICE = Decimal("0.25")  # credits per unit of the `units` property
FAST = {"DRAWDOWN_USAGE_GRACE_SECONDS": "0", "DRAWDOWN_USAGE_DEDUCT_POLL_SECONDS": "0.05"}


@dataclass
class Sent:
    lock: threading.Lock = field(default_factory=threading.Lock)
    batches: list[bytes] = field(default_factory=list)
    units: Counter[str] = field(default_factory=Counter)  # customer -> units sent
    failed: int = 0  # batches whose answer never came (the server died)


def ingester(served: Served, customers: list[str], sent: Sent, stop: threading.Event,
             seed: int) -> None:  # fmt: skip
    rng = random.Random(seed)
    with served.client(timeout=10) as http:
        while not stop.is_set():
            events, units = [], Counter[str]()
            for _ in range(BATCH):
                customer, amount = rng.choice(customers), rng.randint(1, 9)
                events.append({"idempotency_key": f"u9-{uuid.uuid4().hex}",
                               "event_name": "job", "customer_id": customer,
                               "timestamp": datetime.now(UTC).isoformat(),
                               "properties": {"units": amount}})  # fmt: skip
                units[customer] += amount
            body = json.dumps({"events": events}).encode()
            with sent.lock:
                sent.batches.append(body)
                sent.units.update(units)
            try:
                response = http.post("/ingest", content=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
                assert response.status_code == 200, response.text
            except httpx.TransportError:
                with sent.lock:
                    sent.failed += 1
                time.sleep(0.05)  # the server is down; wait for the restart


_PENDING = text("SELECT count(*) FROM usage_events WHERE deduction_id IS NULL")


def _pending(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_PENDING).scalar_one())


@pytest.mark.parametrize("backend", BACKENDS)
def test_usage_is_deducted_exactly_once_across_kills(backend: str, database_factory: Any) -> None:
    url = database_factory(backend)
    run_cli(url, "items", "add", "work", "--name", "Work")
    run_cli(url, "prices", "add", "--item", "work", "--event-name", "job",
            "--metric", "sum:units", "--credits-per-unit", str(PRICE))  # fmt: skip
    served = Served(url, env=FAST)
    served.start()
    kills = scale(1, 10)
    sent, stop = Sent(), threading.Event()
    try:
        with served.client() as http:
            customers = [http.post("/customers", json={"name": "U", "email": "u@example.com"})
                         .json()["id"] for _ in range(CUSTOMERS)]  # fmt: skip
            for customer in customers:
                funded = http.post(f"/customers/{customer}/credits/ledger_entry",
                                   json={"entry_type": "increment", "amount": 10**9})  # fmt: skip
                assert funded.status_code == 201
        threads = [threading.Thread(target=ingester, args=(served, customers, sent, stop, i))
                   for i in range(INGESTERS)]  # fmt: skip
        for thread in threads:
            thread.start()
        rng = random.Random(15)
        for _ in range(kills):
            time.sleep(rng.uniform(0.8, 1.6))  # ingestion and deductions in full swing
            served.kill9()
            served.start()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        with served.client() as http:  # every batch again: what was stored is a duplicate
            for body in sent.batches:
                response = http.post("/ingest", content=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
                assert response.status_code == 200, response.text
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        deadline = time.monotonic() + 120
        while _pending(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pending(engine) == 0, "usage left undeducted"
    finally:
        stop.set()
        served.stop()
    with engine.connect() as conn:
        events = conn.execute(text("SELECT customer_id, count(*), count(DISTINCT "
                                   "idempotency_key) FROM usage_events "
                                   "GROUP BY customer_id")).all()  # fmt: skip
        entries = conn.execute(text("SELECT customer_id, amount, metadata FROM ledger_entries "
                                    "WHERE entry_type = 'decrement'")).all()  # fmt: skip
    engine.dispose()
    stored = {customer: count for customer, count, _ in events}
    assert all(count == distinct for _, count, distinct in events)
    assert sum(stored.values()) == BATCH * len(sent.batches)
    drawn: dict[str, Decimal] = {}
    deductions: Counter[str] = Counter()
    for customer, amount, metadata in entries:
        meta = json.loads(metadata) if isinstance(metadata, str) else metadata
        drawn[customer] = drawn.get(customer, Decimal(0)) + Decimal(str(amount))
        deductions[meta["usage_deduction_id"]] += 1
    for customer in sent.units:
        assert drawn.get(customer) == sent.units[customer] * PRICE, customer
    assert set(deductions.values()) == {1}, "a deduction wrote more than one decrement"
    report = verify_clean(url)
    print(f"\nkill9-usage[{backend}]: {kills} kills, {len(sent.batches)} batches "
          f"({BATCH * len(sent.batches)} events, {sent.failed} unanswered), "
          f"{len(deductions)} deductions, drawn {sum(drawn.values())} = priced usage; "
          f"verify: {report.entries} entries clean")  # fmt: skip
