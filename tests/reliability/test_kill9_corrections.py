"""kill -9 in the middle of usage corrections loses and doubles nothing (issue 19).

A server with no grace period has deducted every customer's usage. Then, while it is
SIGKILLed and restarted on the same database: amenders change the properties of deducted
events (`PUT /events/{id}`), a deprecator deprecates others, and a backfiller replaces one
customer's usage again and again with backfills of 400 events (create, ingest, close), so
kills land inside amendments, deprecations and closes. A correction commits its events and
its compensating entries in one transaction; a close is one transaction per customer and
is finished by the restarted server's deducter if a kill cut it short. Afterwards every
amendment and deprecation whose answer never came is sent again (a PUT is safe to repeat),
the last backfill is closed again, and once nothing is left to do:

* each event stands as last sent (amended properties, deprecated, or the last backfill's);
* each customer's usage decrements minus its refunds, plus the carry, equal the exact
  priced usage of the deducted events that stand: nothing lost, nothing counted twice;
* `drawdown verify` is clean.

CI: 1 kill per database. `DRAWDOWN_LONG=1`: 10 kills per database.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from conftest import BACKENDS, run_cli
from reliability.rel_support import Served, scale, verify_clean

pytestmark = pytest.mark.slow

PRICE = Decimal("0.25")  # credits per unit of the `n` property
FAST = {"DRAWDOWN_USAGE_GRACE_SECONDS": "0", "DRAWDOWN_USAGE_DEDUCT_POLL_SECONDS": "0.05"}
AMENDED_CUSTOMERS = 3
EVENTS_PER_CUSTOMER = 60
BACKFILL_EVENTS = 400
WAIT_SECONDS = 120


@dataclass
class Sent:
    """The last value each thread sent per key (what must stand once everything is resent)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    amended: dict[tuple[str, str], int] = field(default_factory=dict)  # (customer, key) -> n
    deprecated: set[tuple[str, str]] = field(default_factory=set)
    backfills: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # id, key -> n
    unanswered: int = 0
    failures: list[BaseException] = field(default_factory=list)


def _guarded(target: Any, sent: Sent) -> Any:
    """Run a thread's loop; an assertion that fails in it fails the test at the end."""

    def run(*args: Any) -> None:
        try:
            target(*args)
        except BaseException as error:
            with sent.lock:
                sent.failures.append(error)
            raise

    return run


def _put(http: httpx.Client, path: str, body: dict[str, Any] | None, sent: Sent) -> bool:
    try:
        response = http.put(path, json=body)
    except httpx.TransportError:
        with sent.lock:
            sent.unanswered += 1
        time.sleep(0.05)  # the server is down; wait for the restart
        return False
    assert response.status_code == 200, response.text
    return True


def amender(
    served: Served,
    events: dict[str, list[tuple[str, str]]],
    customer: str,
    sent: Sent,
    stop: threading.Event,
    seed: int,
) -> None:
    rng, mine = random.Random(seed), events[customer]
    with served.client(timeout=10) as http:
        while not stop.is_set():
            key, at = rng.choice([e for e in mine if int(e[0].rsplit("-", 1)[1]) % 5])
            n = rng.randint(0, 9)
            with sent.lock:
                sent.amended[customer, key] = n
            body = {
                "event_name": "job",
                "timestamp": at,
                "properties": {"n": n},
                "customer_id": customer,
            }
            _put(http, f"/events/{key}", body, sent)


def deprecator(
    served: Served, events: dict[str, list[tuple[str, str]]], sent: Sent, stop: threading.Event
) -> None:
    todo = [
        (c, key)
        for c, found in events.items()
        for key, _ in found
        if int(key.rsplit("-", 1)[1]) % 5 == 0
    ]
    random.Random(7).shuffle(todo)
    with served.client(timeout=10) as http:
        while todo and not stop.is_set():
            customer, key = todo[-1]
            with sent.lock:
                sent.deprecated.add((customer, key))
            if _put(http, f"/events/{key}/deprecate", None, sent):
                todo.pop()
            time.sleep(0.02)


def _post(http: httpx.Client, path: str, **kw: Any) -> httpx.Response | None:
    try:
        return http.post(path, **kw)
    except httpx.TransportError:
        time.sleep(0.1)
        return None


def _until_answered(http: httpx.Client, path: str, stop: threading.Event, **kw: Any) -> Any:
    """POST until the server answers (it may be down for a restart); None when stopping."""
    while not stop.is_set():
        response = _post(http, path, **kw)
        if response is not None:
            assert response.status_code in (200, 201), response.text
            return response.json()
    return None


def backfiller(
    served: Served,
    customer: str,
    window: tuple[datetime, datetime],
    sent: Sent,
    stop: threading.Event,
) -> None:
    rng, (start, end) = random.Random(11), window
    with served.client(timeout=30) as http:
        while not stop.is_set():
            body = {
                "timeframe_start": start.isoformat(),
                "timeframe_end": end.isoformat(),
                "customer_id": customer,
            }
            # A create whose answer a kill swallowed is retried with its Idempotency-Key: a
            # second backfill would overlap the first, still open, and be refused.
            once = {"Idempotency-Key": uuid.uuid4().hex}
            created = _until_answered(http, "/events/backfills", stop, json=body, headers=once)
            if created is None:
                return
            values = {
                f"bf-{uuid.uuid4().hex[:12]}-{j}": rng.randint(1, 9) for j in range(BACKFILL_EVENTS)
            }
            with sent.lock:
                sent.backfills.append((created["id"], values))
            batch = [
                {
                    "idempotency_key": key,
                    "event_name": "job",
                    "customer_id": customer,
                    "timestamp": (start + timedelta(microseconds=500 * j)).isoformat(),
                    "properties": {"n": n},
                }
                for j, (key, n) in enumerate(values.items())
            ]
            params = {"backfill_id": created["id"]}
            if _until_answered(http, "/ingest", stop, json={"events": batch}, params=params):
                _until_answered(
                    http,
                    f"/events/backfills/{created['id']}/close",
                    stop,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )


def _scalar(engine: Any, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _wait_until_settled(engine: Any) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        undeducted = _scalar(
            engine,
            "SELECT count(*) FROM usage_events WHERE status = 'live' AND deduction_id IS NULL",
        )
        unfinished = _scalar(
            engine,
            "SELECT count(*) FROM usage_backfills WHERE status IN ('pending', 'pending_revert')",
        )
        if not undeducted and not unfinished:
            return
        time.sleep(0.1)
    raise AssertionError("usage or backfills left unfinished")


def _ledger_usage(engine: Any) -> dict[str, Decimal]:
    """Σ usage decrements − Σ usage refunds + carry, per customer."""
    net: dict[str, Decimal] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT customer_id, entry_type, amount, metadata FROM ledger_entries")
        ).all()
        carried = conn.execute(text("SELECT customer_id, carried FROM usage_carry")).all()
    for customer, entry_type, amount, metadata in rows:
        meta = json.loads(metadata) if isinstance(metadata, str) else metadata
        sign = 1 if entry_type == "decrement" and "usage_item_id" in meta else 0
        sign = -1 if "usage_correction_id" in meta else sign
        net[customer] = net.get(customer, Decimal(0)) + sign * Decimal(str(amount))
    for customer, amount in carried:
        net[customer] = net.get(customer, Decimal(0)) + Decimal(str(amount))
    return net


def _standing(engine: Any) -> dict[tuple[str, str], tuple[str, int, bool]]:
    """(customer, key) of every live event -> (origin, n, deducted)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT customer_id, idempotency_key, origin, properties, "
                "deduction_id FROM usage_events WHERE status = 'live'"
            )
        ).all()
    return {
        (c, key): (origin, int(json.loads(props)["n"]), deduction is not None)
        for c, key, origin, props, deduction in rows
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_corrections_lose_and_double_nothing_across_kills(
    backend: str, database_factory: Any
) -> None:
    url = database_factory(backend)
    run_cli(url, "items", "add", "work", "--name", "Work")
    run_cli(
        url,
        "prices",
        "add",
        "--item",
        "work",
        "--event-name",
        "job",
        "--metric",
        "sum:n",
        "--credits-per-unit",
        str(PRICE),
    )
    priced_from = datetime.now(UTC)
    served = Served(url, env=FAST)
    served.start()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    kills, sent, stop = scale(1, 10), Sent(), threading.Event()
    try:
        customers, events = _seed(served, priced_from)
        _wait_until_settled(engine)
        backfilled = customers[-1]
        window = (priced_from, priced_from + timedelta(seconds=1))
        threads = [
            threading.Thread(
                target=_guarded(amender, sent), args=(served, events, c, sent, stop, i)
            )
            for i, c in enumerate(customers[:-1])
        ]
        threads.append(
            threading.Thread(target=_guarded(deprecator, sent), args=(served, events, sent, stop))
        )
        threads.append(
            threading.Thread(
                target=_guarded(backfiller, sent), args=(served, backfilled, window, sent, stop)
            )
        )
        for thread in threads:
            thread.start()
        rng = random.Random(19)
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 2.0))  # corrections and closes in full swing
            served.kill9()
            served.start()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not sent.failures, sent.failures
        _resend(served, events, sent)
        _wait_until_settled(engine)
        _check(engine, customers, sent)
    finally:
        stop.set()
        served.stop()
        engine.dispose()
    report = verify_clean(url)
    print(
        f"\nkill9-corrections[{backend}]: {kills} kills, {len(sent.amended)} events amended, "
        f"{len(sent.deprecated)} deprecated, {len(sent.backfills)} backfills, "
        f"{sent.unanswered} unanswered; verify: {report.entries} entries clean"
    )


def _seed(served: Served, priced_from: datetime) -> tuple[list[str], dict[str, list[Any]]]:
    customers: list[str] = []
    events: dict[str, list[tuple[str, str]]] = {}
    with served.client() as http:
        for i in range(AMENDED_CUSTOMERS + 1):
            customer = http.post("/customers", json={"name": "K", "email": "k@example.com"})
            cid = customer.json()["id"]
            funded = http.post(
                f"/customers/{cid}/credits/ledger_entry",
                json={"entry_type": "increment", "amount": 10**9},
            )
            assert funded.status_code == 201
            at = [
                (priced_from + timedelta(microseconds=700 * j)).isoformat()
                for j in range(EVENTS_PER_CUSTOMER)
            ]
            found = [(f"k{i}-{uuid.uuid4().hex[:8]}-{j}", at[j]) for j in range(len(at))]
            batch = [
                {
                    "idempotency_key": key,
                    "event_name": "job",
                    "timestamp": when,
                    "properties": {"n": 5},
                    "customer_id": cid,
                }
                for key, when in found
            ]
            assert http.post("/ingest", json={"events": batch}).status_code == 200
            customers.append(cid)
            events[cid] = found
    events.pop(customers[-1])  # the backfilled customer's events are replaced, not amended
    return customers, events


def _resend(served: Served, events: dict[str, list[Any]], sent: Sent) -> None:
    """What a client whose request failed does: send the last value of every key again."""
    when = {key: at for found in events.values() for key, at in found}
    with served.client() as http:
        for (customer, key), n in sorted(sent.amended.items()):
            body = {
                "event_name": "job",
                "timestamp": when[key],
                "properties": {"n": n},
                "customer_id": customer,
            }
            assert http.put(f"/events/{key}", json=body).status_code == 200
        for _, key in sorted(sent.deprecated):
            assert http.put(f"/events/{key}/deprecate").status_code == 200
        if sent.backfills:
            last, values = sent.backfills[-1]
            status = http.get(f"/events/backfills/{last}").json()["status"]
            if status == "pending" and http.get(f"/events/backfills/{last}").json()[
                "events_ingested"
            ] < len(values):  # the ingest never committed: drop it
                assert http.post(f"/events/backfills/{last}/revert").status_code == 200
                sent.backfills.pop()
            else:
                assert http.post(f"/events/backfills/{last}/close").status_code == 200


def _check(engine: Any, customers: list[str], sent: Sent) -> None:
    standing = _standing(engine)
    assert all(deducted for _, _, deducted in standing.values()), "live usage left undeducted"
    for (customer, key), n in sent.amended.items():
        assert standing[customer, key][1] == n, (customer, key)
    for pair in sent.deprecated:
        assert pair not in standing, pair
    backfilled = customers[-1]
    mine = {key: n for (c, key), (_, n, _) in standing.items() if c == backfilled}
    expected = sent.backfills[-1][1] if sent.backfills else None
    if expected is not None:
        assert mine == expected, "the backfilled customer's usage is not the last backfill's"
    owed: dict[str, Decimal] = {}
    for (customer, _), (_, n, _) in standing.items():
        owed[customer] = owed.get(customer, Decimal(0)) + n * PRICE
    net = _ledger_usage(engine)
    for customer in customers:
        assert net.get(customer, Decimal(0)) == owed.get(customer, Decimal(0)), customer
