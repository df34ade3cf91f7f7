"""Balance alerts as webhooks, end to end on SQLite and PostgreSQL: a real receiver on
loopback verifies every signature (Standard Webhooks, and Orb's via the official SDK's
`webhooks.unwrap`), events fire once per crossing and only for a configured alert (which
follows enable, disable and new thresholds from the next write), failed deliveries are
retried with backoff and every attempt is kept, an event committed by a process that dies
before delivering is delivered by the next one exactly once, and an admin can replay an
event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orb
import pytest
from rules_helpers import customer, decrement, increment
from sqlalchemy import text

from conftest import Server, run_cli, start_server, stop_server
from support.webhook_receiver import Receiver, receiving

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST = {
    "DRAWDOWN_WEBHOOK_POLL_SECONDS": "0.1",
    "DRAWDOWN_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
    "DRAWDOWN_WEBHOOK_EXPIRING_SCAN_SECONDS": "0.2",
}
PROPAGATION_SECONDS = 0.5  # serving processes reload endpoints every poll


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving(SECRET) as found:
        yield found


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hooked(
    request: pytest.FixtureRequest, database_factory: Any, receiver: Receiver
) -> Iterator[Server]:
    """A server with fast delivery and one endpoint (added with the CLI) for every event."""
    url = database_factory(request.param)
    out = run_cli(url, "webhooks", "add", receiver.url, "--secret", SECRET)
    assert out.startswith("added endpoint ") and SECRET not in out
    srv = start_server(url, env=FAST)
    yield srv
    stop_server(srv)


def settings(server: Server, customer_id: str, body: dict[str, Any]) -> None:
    with server.http() as http:
        response = http.put(f"/customers/{customer_id}/credits/settings", json=body)
    assert response.status_code == 200, response.text


def alerted(client: orb.Orb, *types: str) -> Any:
    """A new customer with enabled alerts of these types on `credits` (default: depleted):
    balance events fire only for a configured alert, as in Orb."""
    c = customer(client)
    for alert_type in types or ("credit_balance_depleted",):
        client.alerts.create_for_customer(c.id, currency="credits", type=alert_type)
    return c


def rows(server: Server, sql: str, **params: Any) -> list[Any]:
    with server.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def test_balance_events_fire_once_per_crossing_signed_both_ways(
    hooked: Server, receiver: Receiver
) -> None:
    client = hooked.client()
    c = alerted(client, "credit_balance_depleted", "credit_balance_recovered")
    settings(hooked, c.id, {"balance_alert_thresholds": [{"value": 50}, {"value": 20}]})
    configured = {a.type: a.id for a in client.alerts.list(customer_id=c.id)}
    increment(client, c.id, 100)
    decrement(client, c.id, 60)  # 40: below 50
    decrement(client, c.id, 5)  # 35: nothing new
    decrement(client, c.id, 45)  # -10: below 20, depleted
    increment(client, c.id, 100)  # 90: recovered, thresholds re-armed
    decrement(client, c.id, 45)  # 45: below 50 again
    got = receiver.wait_for(5, receiver.of_customer(c.id))
    time.sleep(0.5)
    got = [r for r in receiver.received if receiver.of_customer(c.id)(r)]
    # Delivery order is not promised (deliveries go out in parallel): compare as a multiset.
    kinds = sorted((r.json["type"], r.json["properties"].get("balance_threshold") or "")
                   for r in got)  # fmt: skip
    assert kinds == sorted(
        [
            ("customer.credit_balance_dropped", "50"),
            ("customer.credit_balance_dropped", "20"),
            ("customer.credit_balance_depleted", ""),
            ("customer.credit_balance_recovered", ""),
            ("customer.credit_balance_dropped", "50"),
        ]
    )
    assert all(r.verified for r in got)
    assert len({r.id for r in got}) == 5
    sdk = orb.Orb(api_key="unused", base_url=hooked.base_url)
    for r in got:
        event = sdk.webhooks.unwrap(r.body, r.headers, secret=SECRET)  # Orb's signature
        assert event.type == r.json["type"] and event.id == r.id
        assert event.customer.id == c.id
        configuration = event.properties.alert_configuration
        assert configuration.currency == "credits" and configuration.enabled
        assert configuration.id == configured[event.type.removeprefix("customer.")]
    [depleted] = [r.json["properties"] for r in got
                  if r.json["type"] == "customer.credit_balance_depleted"]  # fmt: skip
    assert depleted["available_balance"] == "-10"
    assert depleted["alert_configuration"]["balance_alert_status"] == [
        {"in_alert": True, "threshold_value": "0"}
    ]


def test_a_dropped_alert_fires_per_crossing_follows_enable_disable_and_new_thresholds(
    hooked: Server, receiver: Receiver
) -> None:
    client = hooked.client(_strict_response_validation=True)
    c = customer(client)
    alert = client.alerts.create_for_customer(
        c.id, currency="credits", type="credit_balance_dropped", thresholds=[{"value": 50}]
    )
    of_c = receiver.of_customer(c.id)

    def settled(expected: list[str]) -> None:
        """The customer's events so far are exactly these thresholds (in any order)."""
        receiver.wait_for(len(expected), of_c)
        time.sleep(0.6)  # several delivery polls: nothing more arrives
        got = [r.json for r in receiver.received if of_c(r)]
        assert sorted(e["properties"]["balance_threshold"] for e in got) == sorted(expected)
        assert {e["type"] for e in got} <= {"customer.credit_balance_dropped"}

    increment(client, c.id, 100)
    decrement(client, c.id, 60)  # 40: at or below 50
    decrement(client, c.id, 5)  # 35: still below, nothing new
    settled(["50"])
    increment(client, c.id, 30)  # 65: above again, re-armed silently
    decrement(client, c.id, 20)  # 45: fires again after the recovery
    settled(["50", "50"])
    assert client.alerts.disable(alert.id).enabled is False
    increment(client, c.id, 20)  # 65
    decrement(client, c.id, 20)  # 45: crossed while disabled, nothing sent
    settled(["50", "50"])
    assert client.alerts.enable(alert.id).enabled is True
    decrement(client, c.id, 1)  # 44: already below (followed while disabled)
    increment(client, c.id, 20)  # 64
    decrement(client, c.id, 20)  # 44: a crossing after enabling fires
    settled(["50", "50", "50"])
    client.alerts.update(alert.id, thresholds=[{"value": 80}, {"value": 50}])
    decrement(client, c.id, 1)  # 43: the next write sees the new threshold 80
    decrement(client, c.id, 50)  # -7: no depleted alert configured, no depleted event
    settled(["50", "50", "50", "80"])
    events = [r.json for r in receiver.received if of_c(r)]
    assert {e["properties"]["alert_configuration"]["id"] for e in events} == {alert.id}
    last = next(e for e in events if e["properties"]["balance_threshold"] == "80")
    assert last["properties"]["alert_configuration"]["thresholds"] == [
        {"value": "50"}, {"value": "80"}
    ]  # fmt: skip
    assert last["properties"]["alert_configuration"]["balance_alert_status"] == [
        {"in_alert": True, "threshold_value": "50"},
        {"in_alert": True, "threshold_value": "80"},
    ]
    fetched = client.alerts.retrieve(alert.id)
    assert [(s.threshold_value, s.in_alert) for s in fetched.balance_alert_status or []] == [
        (50, True), (80, True)
    ]  # fmt: skip


def test_failed_deliveries_are_retried_with_backoff_and_every_attempt_kept(
    hooked: Server, receiver: Receiver
) -> None:
    client = hooked.client()
    c = alerted(client)
    receiver.answer = lambda r: 200 if _tries(receiver, r.id) >= 3 else 503
    try:
        decrement(client, c.id, 1)
        got = receiver.wait_for(3, receiver.of_customer(c.id))
    finally:
        receiver.answer = lambda _r: 200
    assert len({r.id for r in got}) == 1  # the same webhook-id on every attempt
    stamps = [int(r.headers["webhook-timestamp"]) for r in got]
    assert stamps == sorted(stamps)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = rows(hooked, "SELECT status, attempts FROM webhook_deliveries WHERE event_id = :e",
                      e=got[0].id)  # fmt: skip
        if status and status[0][0] == "delivered":
            break
        time.sleep(0.1)
    assert status == [("delivered", 3)]
    attempts = rows(hooked, "SELECT status_code, error FROM webhook_attempts WHERE event_id = :e "
                    "ORDER BY attempted_at", e=got[0].id)  # fmt: skip
    assert attempts == [(503, "HTTP 503"), (503, "HTTP 503"), (200, None)]


def _tries(receiver: Receiver, event_id: str) -> int:
    with receiver.lock:
        return sum(1 for r in receiver.received if r.id == event_id)


def test_an_admin_replays_an_event_with_its_id(hooked: Server, receiver: Receiver) -> None:
    client = hooked.client()
    c = alerted(client)
    decrement(client, c.id, 1)
    [first] = receiver.wait_for(1, receiver.of_customer(c.id))
    out = run_cli(hooked.database_url, "webhooks", "replay", first.id)
    assert out.strip() == f"queued event {first.id} for 1 endpoint(s)"
    again = receiver.wait_for(2, receiver.of_customer(c.id))
    assert [r.id for r in again] == [first.id, first.id] and again[1].body == first.body
    listed = run_cli(hooked.database_url, "webhooks", "list")
    assert first.id in listed and SECRET not in listed


def test_credits_expiring_is_announced_once_per_block(hooked: Server, receiver: Receiver) -> None:
    client = hooked.client()
    c = customer(client)
    from datetime import UTC, datetime, timedelta

    expiry = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    block = increment(client, c.id, 12, expiry_date=expiry.isoformat()).credit_block
    increment(client, c.id, 5, expiry_date=(expiry + timedelta(days=30)).isoformat())
    [got] = receiver.wait_for(1, lambda r: r.json["type"] == "customer.credits_expiring"
                              and receiver.of_customer(c.id)(r))  # fmt: skip
    time.sleep(1)  # several scans later: still one
    assert [r for r in receiver.received if receiver.of_customer(c.id)(r)] == [got]
    properties = got.json["properties"]
    assert properties["credit_block"]["id"] == block.id
    assert properties["credit_block"]["balance"] == "12"
    assert properties["days_before_expiry"] == 7


@pytest.mark.slow  # kills a server process mid-delivery and restarts it
def test_an_event_committed_before_a_crash_is_delivered_later_exactly_once(
    database_factory: Any, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    for backend in ("sqlite", "postgres"):
        url = database_factory(backend)
        run_cli(url, "webhooks", "add", receiver.url, "--secret", SECRET, "--event",
                "customer.credit_balance_depleted")  # fmt: skip
        crashing = start_server(url, env={**FAST, "DRAWDOWN_WEBHOOK_DELIVERY": "off"})
        client = crashing.client()
        c = alerted(client)
        decrement(client, c.id, 3)
        assert rows(crashing, "SELECT type FROM webhook_events WHERE customer_id = :c",
                    c=c.id) == [("customer.credit_balance_depleted",)]  # fmt: skip
        crashing.process.kill()  # no shutdown: committed, never delivered
        crashing.process.wait()
        time.sleep(0.5)
        assert not [r for r in receiver.received if receiver.of_customer(c.id)(r)]
        restarted = start_server(url, env=FAST)
        try:
            [got] = receiver.wait_for(1, receiver.of_customer(c.id))
            time.sleep(1)
            assert [r.id for r in receiver.received if receiver.of_customer(c.id)(r)] == [got.id]
            assert got.verified
        finally:
            stop_server(restarted)
            crashing.engine.dispose()


def test_removed_endpoints_get_nothing_more(hooked: Server, receiver: Receiver) -> None:
    with receiving(SECRET) as other:
        out = run_cli(hooked.database_url, "webhooks", "add", other.url, "--secret", SECRET)
        endpoint_id = out.split()[2]
        time.sleep(PROPAGATION_SECONDS)
        client = hooked.client()
        c = alerted(client)
        decrement(client, c.id, 1)
        other.wait_for(1, other.of_customer(c.id))
        run_cli(hooked.database_url, "webhooks", "remove", endpoint_id)
        time.sleep(PROPAGATION_SECONDS)
        d = alerted(client)
        decrement(client, d.id, 1)
        receiver.wait_for(1, receiver.of_customer(d.id))
        time.sleep(0.5)
        assert not [r for r in other.received if other.of_customer(d.id)(r)]
