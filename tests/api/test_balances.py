"""drawdown's balance extensions through the real server, on SQLite and PostgreSQL: the
summary (available / scheduled / awaiting payment / total), `as_of` answered by replaying
the ledger, the dry-run decrement, the overdraft guard and the credit settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orb
import pytest
from rules_helpers import customer, decrement, increment, purchase, raw_rejected

from conftest import Server, start_server, stop_server

Json = dict[str, Any]


def get(server: Server, path: str, **params: Any) -> Json:
    with server.http() as http:
        response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def send(server: Server, method: str, path: str, body: Json) -> Any:
    with server.http() as http:
        return http.request(method, path, json=body)


def summary(server: Server, customer_id: str, **params: Any) -> list[Json]:
    data: list[Json] = get(server, f"/customers/{customer_id}/credits/summary", **params)["data"]
    return data


def blocks(server: Server, customer_id: str, **params: Any) -> list[Json]:
    data: list[Json] = get(server, f"/customers/{customer_id}/credits", include_all_blocks="true",
                           limit=100, **params)["data"]  # fmt: skip
    return data


# --- summary ---------------------------------------------------------------------------


def test_summary_splits_the_ledger_balance(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    next_week = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    increment(client, c.id, 3935)
    increment(client, c.id, 1000, effective_date=next_week)
    purchase(client, c.id, 10, "1", require_successful_payment=True)
    assert summary(server, c.id) == [
        {"currency": "credits", "available": 3935, "scheduled": 1000, "awaiting_payment": 10,
         "total": 4945}
    ]  # fmt: skip
    entry = decrement(client, c.id, 3950)
    assert entry.ending_balance == 995  # Orb's field keeps Orb's meaning: L
    [row] = summary(server, c.id)
    assert (row["available"], row["total"]) == (-15, 995)
    by_external = get(server, f"/customers/external_customer_id/{c.external_customer_id}"
                      "/credits/summary")  # fmt: skip
    assert by_external["data"] == [row]
    assert summary(server, c.id, currency="EUR") == []
    ledger_balance = client.customers.credits.ledger.list(c.id).data[0].ending_balance
    assert row["total"] == ledger_balance  # R-BAL-4


def test_summary_of_unknown_customer_is_404(server: Server) -> None:
    raw_rejected(server, "GET", "/customers/nope/credits/summary", 404, "404-resource-not-found")


# --- as_of -------------------------------------------------------------------------------


def test_as_of_answers_what_was_captured_at_each_instant(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    expires = datetime.now(UTC) + timedelta(seconds=3)
    soon, later = expires.isoformat(), (datetime.now(UTC) + timedelta(days=3)).isoformat()
    captured: list[tuple[str, list[Json], list[Json], list[Json]]] = []

    def capture() -> None:
        # The state holds still between two writes, except when the block's expiry falls
        # between the reads: such a capture has no single instant to compare with.
        before = datetime.now(UTC)
        listed = get(server, f"/customers/{c.id}/credits")["data"]
        state = (blocks(server, c.id), listed, summary(server, c.id))
        after = datetime.now(UTC)
        if not before <= expires <= after:
            captured.append((after.isoformat(), *state))
        time.sleep(0.01)

    increment(client, c.id, 100, per_unit_cost_basis="0.5", expiry_date=soon)
    capture()
    increment(client, c.id, 40, effective_date=later)
    bought = purchase(client, c.id, 25, "1", require_successful_payment=True)
    capture()
    decrement(client, c.id, 60)
    capture()
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
    capture()  # the first block expired with 40 left
    decrement(client, c.id, 30)  # nothing drawable: a deficit block
    capture()
    client.invoices.mark_paid(bought.created_invoices[0].id, payment_received_date="2030-01-01")
    decrement(client, c.id, 5)
    capture()
    assert len(captured) >= 5
    for at, all_blocks, listed, summed in captured:
        assert blocks(server, c.id, as_of=at) == all_blocks, at
        assert get(server, f"/customers/{c.id}/credits", as_of=at)["data"] == listed, at
        assert summary(server, c.id, as_of=at) == summed, at
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert blocks(server, c.id, as_of=before) == []
    assert summary(server, c.id, as_of=before) == []


def test_as_of_in_the_future_or_malformed_is_refused(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for path in (f"/customers/{c.id}/credits", f"/customers/{c.id}/credits/summary"):
        body = raw_rejected(server, "GET", path, 400, "400-request-validation-errors",
                            params={"as_of": future})  # fmt: skip
        assert "as_of" in str(body)
        raw_rejected(
            server, "GET", path, 400, "400-request-validation-errors", params={"as_of": "yesterday"}
        )


# --- preview -------------------------------------------------------------------------------


def _shape(entry: Json) -> tuple[Any, ...]:
    return (entry["entry_type"], entry["credit_block"]["id"], entry["amount"],
            entry["starting_balance"], entry["ending_balance"], entry["ledger_sequence_number"],
            entry["description"], entry["currency"])  # fmt: skip


def test_preview_equals_the_decrement_that_follows(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    expiry = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    increment(client, c.id, 30, expiry_date=expiry)
    increment(client, c.id, 50, per_unit_cost_basis="0.1")
    body = {"entry_type": "decrement", "amount": 70, "description": "usage"}
    before = server.snapshot()
    response = send(server, "POST", f"/customers/{c.id}/credits/ledger_entry/preview", body)
    assert response.status_code == 200, response.text
    preview = response.json()["data"]
    assert server.snapshot() == before  # a preview writes nothing
    assert [(e["amount"], e["ending_balance"]) for e in preview] == [(30, 50), (40, 10)]
    client.customers.credits.ledger.create_entry(c.id, **body)
    written = client.customers.credits.ledger.list(c.id, entry_type="decrement").data
    assert [_shape(e.model_dump()) for e in reversed(written)] == [_shape(e) for e in preview]
    # Past every block: the rest goes to the last drawable block, same as the real decrement.
    over = {"entry_type": "decrement", "amount": 25}
    path = f"/customers/external_customer_id/{c.external_customer_id}/credits/ledger_entry/preview"
    preview = send(server, "POST", path, over).json()["data"]
    client.customers.credits.ledger.create_entry(c.id, **over)
    newest = client.customers.credits.ledger.list(c.id, entry_type="decrement", limit=1).data
    assert [_shape(e) for e in preview] == [_shape(newest[0].model_dump())]


def test_preview_refuses_what_a_decrement_would_refuse(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    path = f"/customers/{c.id}/credits/ledger_entry/preview"
    raw_rejected(server, "POST", path, 400, "400-request-validation-errors",
                 json={"entry_type": "decrement", "amount": -1})  # fmt: skip
    raw_rejected(server, "POST", path, 400, "400-request-validation-errors",
                 json={"entry_type": "increment", "amount": 1})  # fmt: skip
    misplaced = {"entry_type": "decrement", "amount": 1, "expiry_date": "2030-01-01"}
    raw_rejected(server, "POST", path, 400, "400-request-validation-errors", json=misplaced)
    one = {"entry_type": "decrement", "amount": 1}
    raw_rejected(server, "POST", "/customers/nope/credits/ledger_entry/preview", 404,
                 "404-resource-not-found", json=one)  # fmt: skip


# --- settings and the overdraft guard ----------------------------------------------------------


def test_settings_and_the_per_customer_overdraft_guard(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    path = f"/customers/{c.id}/credits/settings"
    assert get(server, path) == {
        "customer_id": c.id, "overdraft": None, "effective_overdraft": "allow",
        "balance_alert_thresholds": [],
    }  # fmt: skip
    response = send(server, "PUT", path, {"overdraft": "refuse", "balance_alert_thresholds": [
        {"value": 100}, {"value": "25.5"}, {"currency": "USD", "value": 5}]})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {
        "customer_id": c.id, "overdraft": "refuse", "effective_overdraft": "refuse",
        "balance_alert_thresholds": [{"currency": "USD", "value": 5},
                                     {"currency": "credits", "value": 25.5},
                                     {"currency": "credits", "value": 100}],
    }  # fmt: skip
    increment(client, c.id, 10)
    body = raw_rejected(server, "POST", f"/customers/{c.id}/credits/ledger_entry", 400,
                        "400-constraint-violation",
                        json={"entry_type": "decrement", "amount": "10.5"})  # fmt: skip
    assert "available balance of 10 credits" in body["detail"]
    assert decrement(client, c.id, 10).ending_balance == 0
    preview = f"/customers/{c.id}/credits/ledger_entry/preview"
    raw_rejected(server, "POST", preview, 400, "400-constraint-violation",
                 json={"entry_type": "decrement", "amount": 1})  # fmt: skip
    send(server, "PUT", path, {"overdraft": None})
    assert decrement(client, c.id, 1).ending_balance == -1  # back to Orb's default
    kept = get(server, path)["balance_alert_thresholds"]
    assert len(kept) == 3  # fields not sent are unchanged


@pytest.mark.parametrize(
    "body",
    [
        {"overdraft": "sometimes"},
        {"balance_alert_thresholds": [{"value": -1}]},
        {"balance_alert_thresholds": [{"currency": "EUR", "value": 1}]},
        {"balance_alert_thresholds": [{"value": "ten"}]},
        {"balance_alert_thresholds": "100"},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    server: Server, client: orb.Orb, body: Json
) -> None:
    c = customer(client, currency="USD")
    path = f"/customers/{c.id}/credits/settings"
    kind = "400-constraint-violation" if "EUR" in str(body) else "400-request-validation-errors"
    raw_rejected(server, "PUT", path, 400, kind, json=body)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def refusing_server(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Server]:
    srv = start_server(database_factory(request.param), env={"DRAWDOWN_OVERDRAFT": "refuse"})
    yield srv
    stop_server(srv)


def test_server_wide_refuse_and_a_customer_that_may_overdraw(refusing_server: Server) -> None:
    client = refusing_server.client()
    c = customer(client)
    one = {"entry_type": "decrement", "amount": 1}
    raw_rejected(refusing_server, "POST", f"/customers/{c.id}/credits/ledger_entry", 400,
                 "400-constraint-violation", json=one)  # fmt: skip
    allowed = customer(client)
    send(refusing_server, "PUT", f"/customers/{allowed.id}/credits/settings",
         {"overdraft": "allow"})  # fmt: skip
    assert decrement(client, allowed.id, 1).ending_balance == -1
