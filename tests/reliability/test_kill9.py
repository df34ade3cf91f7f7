"""kill -9 under write load (issue 11, finding 2; docs/rules.md §1.9 rules 1a-3).

Writers send decrements with unique Idempotency-Keys while the server is SIGKILLed and
restarted on the same database. Afterwards every key is retried with its request:

* a key whose response was received must replay it (same entry id, `Idempotent-Replayed`);
* a key that was in flight at the kill must get its original response if it committed, or
  run now, exactly once — never a 409 "still in progress" (a wedged key), never a 5xx;

and then each customer's ledger holds exactly one decrement per key (0 lost, 0 duplicated),
with dense sequence numbers, and `drawdown verify` is clean.

CI: 1 kill per database. `DRAWDOWN_LONG=1`: 20 kills per database.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, text

from conftest import BACKENDS
from reliability.rel_support import Served, dense, scale, verify_clean

pytestmark = pytest.mark.slow

WRITERS = 12
CUSTOMERS = 6
START_BALANCE = 10**9


@dataclass
class Ledgerbook:
    """What the writers sent and what they were told, keyed by Idempotency-Key."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # key -> (path, body)
    answered: dict[str, str] = field(default_factory=dict)  # key -> entry id
    unknown: set[str] = field(default_factory=set)  # in flight when the server died
    statuses: Counter[int] = field(default_factory=Counter)


def writer(served: Served, customers: list[str], book: Ledgerbook, stop: threading.Event,
           seed: int) -> None:  # fmt: skip
    rng = random.Random(seed)
    with served.client(timeout=10) as http:
        while not stop.is_set():
            customer = rng.choice(customers)
            key = f"k9-{uuid.uuid4().hex}"
            path = f"/customers/{customer}/credits/ledger_entry"
            body = json.dumps({"entry_type": "decrement", "amount": rng.randint(1, 9),
                               "description": key}).encode()  # fmt: skip
            with book.lock:
                book.sent[key] = (path, body)
            try:
                response = http.post(path, content=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                with book.lock:
                    book.unknown.add(key)
                time.sleep(0.05)  # the server is down; wait for the restart
                continue
            with book.lock:
                book.statuses[response.status_code] += 1
                if response.status_code == 201:
                    book.answered[key] = response.json()["id"]
                else:
                    book.unknown.add(key)  # a 5xx or 409: must be settled by the retry


def settle(served: Served, book: Ledgerbook) -> Counter[str]:
    """Retry every key once more, as the SDK would; classify what each retry answered."""
    outcome: Counter[str] = Counter()
    with served.client() as http:
        for key, (path, body) in book.sent.items():
            response = http.post(path, content=body, headers={"Idempotency-Key": key})
            assert response.status_code == 201, (key, response.status_code, response.text)
            replayed = response.headers.get("idempotent-replayed") == "true"
            entry_id = response.json()["id"]
            if key in book.answered:
                assert replayed and entry_id == book.answered[key], key
                outcome["acknowledged, replayed"] += 1
            else:
                late = "not committed (in flight or sent while down): ran on retry"
                outcome["in flight, committed before the kill" if replayed else late] += 1
    return outcome


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill9_under_write_load_loses_duplicates_and_wedges_nothing(
    backend: str, database_factory: object
) -> None:
    kills = scale(1, 20)
    url = database_factory(backend)  # type: ignore[operator]
    served = Served(url)
    served.start()
    with served.client() as http:
        customers = []
        for _ in range(CUSTOMERS):
            c = http.post("/customers", json={"name": "K", "email": "k@example.com"}).json()
            made = http.post(
                f"/customers/{c['id']}/credits/ledger_entry",
                json={"entry_type": "increment", "amount": START_BALANCE},
            )
            assert made.status_code == 201  # fmt: skip
            customers.append(c["id"])
    book = Ledgerbook()
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(served, customers, book, stop, i))
               for i in range(WRITERS)]  # fmt: skip
    for thread in threads:
        thread.start()
    try:
        for _ in range(kills):
            time.sleep(random.uniform(0.5, 1.5))  # let writes pile up in flight
            served.kill9()
            served.start()
    finally:
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    try:
        assert book.statuses[500] == 0 and book.statuses[409] == 0, book.statuses
        outcome = settle(served, book)
    finally:
        served.stop()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT customer_id, seq, description FROM ledger_entries "
            "WHERE entry_type = 'decrement'")).all()  # fmt: skip
        all_seqs = conn.execute(text("SELECT customer_id, seq FROM ledger_entries")).all()
    engine.dispose()
    per_key = Counter(r.description for r in rows)
    assert set(per_key) == set(book.sent), "lost writes"
    assert max(per_key.values()) == 1, "duplicated writes"
    by_customer: dict[str, list[int]] = {}
    for customer_id, seq in all_seqs:
        by_customer.setdefault(customer_id, []).append(seq)
    assert all(dense(seqs) for seqs in by_customer.values())
    report = verify_clean(url)
    print(f"\nkill9[{backend}]: {kills} kills, {len(book.sent)} keys, "
          f"{dict(outcome)}, statuses {dict(book.statuses)}, verify: {report.entries} "
          f"entries clean")  # fmt: skip
