"""The outbox under concurrency and crashes, in-process on SQLite and PostgreSQL: two
delivery processes never send one delivery twice; a sender that dies mid-send leaves a
lease that runs out, after which the delivery is sent again with the same id; a write
with no endpoint configured writes no event, nor one for a customer without alerts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from drawdown.api.schemas.webhooks import event_body
from drawdown.records import WebhookAttempt
from drawdown.services import balance_alerts, customers
from drawdown.services.context import ServiceContext
from drawdown.services.credits import entries
from drawdown.services.entry_input import entry_request
from drawdown.services.webhooks import endpoints
from drawdown.services.webhooks.delivery import Deliverer, Response, retry_delay
from drawdown.services.write_path import CustomerRef, work
from support.contexts import make_context


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, headers: dict[str, str], body: bytes, timeout: float) -> Response:
        with self.lock:
            self.sent.append((headers["webhook-id"], headers))
        return Response(200, None)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, database_factory: Any) -> str:
    return str(database_factory(request.param))


@pytest.fixture
def contexts(url: str) -> Iterator[tuple[ServiceContext, ServiceContext, Clock]]:
    clock = Clock()
    one, two = make_context(url, clock=clock), make_context(url, clock=clock)
    yield one, two, clock
    for ctx in (one, two):
        ctx.keys.stop()
        ctx.db.close()


def _deplete(ctx: ServiceContext, count: int, *, alert: bool = True) -> list[str]:
    """`count` customers drawn below zero, each with a depleted alert unless `alert` is off
    (balance events fire only for a configured alert, as in Orb)."""
    ids = []
    for n in range(count):
        c = customers.create_customer({"name": f"c{n}", "email": "c@x.test"}).run(ctx)
        if alert:
            balance_alerts.create_alert(CustomerRef(id=c.id), balance_alerts.NewAlert(
                "credits", "credit_balance_depleted")).run(ctx)  # fmt: skip
        entries.create_entry(CustomerRef(id=c.id), entry_request(
            {"entry_type": "decrement", "amount": Decimal(1)})).run(ctx)  # fmt: skip
        ids.append(c.id)
    return ids


def _count(ctx: ServiceContext, table: str) -> int:
    with ctx.db.raw_engine().connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_two_processes_never_send_one_delivery_twice(contexts: Any) -> None:
    one, two, _clock = contexts
    endpoints.add_endpoint(one, "http://127.0.0.1:9/a", None, [])
    endpoints.add_endpoint(one, "http://127.0.0.1:9/b", None, [])
    endpoints.refresh(two)
    _deplete(one, 12)
    sink = Sink()
    deliverers = [Deliverer(ctx, event_body, send=sink) for ctx in (one, two)]

    def drain(deliverer: Deliverer) -> None:
        while deliverer.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(d,)) for d in deliverers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sink.sent) == 24
    per_event: dict[str, int] = {}
    for event_id, _ in sink.sent:
        per_event[event_id] = per_event.get(event_id, 0) + 1
    assert sorted(per_event.values()) == [2] * 12  # each event once to each endpoint
    assert _count(one, "webhook_attempts") == 24


def test_a_lease_left_by_a_dead_sender_runs_out_and_the_same_id_is_sent(contexts: Any) -> None:
    one, two, clock = contexts
    endpoints.add_endpoint(one, "http://127.0.0.1:9/a", None, [])
    endpoints.refresh(two)
    _deplete(one, 1)
    dead = Deliverer(one, event_body, send=Sink())
    claimed = work(dead._claim).run(one)  # claimed, then the process "dies" before sending
    assert len(claimed) == 1
    sink = Sink()
    alive = Deliverer(two, event_body, send=sink)
    assert alive.run_once() == 0  # leased: nobody else sends it
    clock.now += timedelta(seconds=one.settings.webhook_timeout_seconds * 3 + 31)
    assert alive.run_once() == 1
    assert [event_id for event_id, _ in sink.sent] == [claimed[0].event_id]
    # The dead sender's late report cannot undo what the live one recorded.
    assert work(lambda tx, now: dead._record(tx, now, claimed[0], _attempt(claimed[0], now),
                                             False)).run(one).moved is False  # fmt: skip
    with one.db.raw_engine().connect() as conn:
        status = conn.execute(text("SELECT status FROM webhook_deliveries")).scalar_one()
    assert status == "delivered"


def _attempt(claimed: Any, now: datetime) -> WebhookAttempt:
    return WebhookAttempt(claimed.customer_id, "late-attempt", claimed.event_id,
                          claimed.endpoint_id, now, None, "lost", 1)  # fmt: skip


def test_without_endpoints_a_write_writes_no_event(contexts: Any) -> None:
    one, _two, _clock = contexts
    _deplete(one, 2)
    assert _count(one, "webhook_events") == 0
    # The alerts' state is still kept: the alerts API shows it (balance_alert_status).
    assert _count(one, "balance_alert_status") == 2


def test_without_alerts_a_write_evaluates_nothing(contexts: Any) -> None:
    one, _two, _clock = contexts
    endpoints.add_endpoint(one, "http://127.0.0.1:9/a", None, [])
    _deplete(one, 2, alert=False)
    assert _count(one, "webhook_events") == 0
    assert _count(one, "balance_alert_status") == 0


def test_retry_delays_grow_exponentially_and_are_capped() -> None:
    assert [retry_delay(n, 10).total_seconds() for n in (1, 2, 3, 4)] == [10, 40, 160, 640]
    assert retry_delay(20, 10) == timedelta(hours=6)
