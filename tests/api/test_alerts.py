"""Orb's alerts API for customers' credit balances through the real server and the official
SDK with strict response validation, on SQLite and PostgreSQL: create (by id and external
id), list with its filters and pages, fetch, update thresholds, enable, disable, delete;
bad input refused naming the field with nothing written; plan and subscription alerts not
available; the credit settings as a view of the dropped alerts. Webhooks: test_webhooks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orb
import pytest
from orb.types import Alert
from rules_helpers import customer, raw_rejected, rejected

from conftest import Server, unique

DROPPED, DEPLETED, RECOVERED = (
    "credit_balance_dropped", "credit_balance_depleted", "credit_balance_recovered"
)  # fmt: skip


@pytest.fixture
def strict(server: Server) -> orb.Orb:
    return server.client(_strict_response_validation=True)


def raw(server: Server, method: str, path: str, **kw: Any) -> Any:
    with server.http() as http:
        return http.request(method, path, **kw)


def test_created_alerts_are_orb_alerts_with_every_field(server: Server, strict: orb.Orb) -> None:
    external = unique()
    c = customer(strict, external_customer_id=external, currency="USD")
    dropped = strict.alerts.create_for_customer(
        c.id, currency="credits", type=DROPPED,
        thresholds=[{"value": 100}, {"value": "20.5"}, {"value": 100}],
    )  # fmt: skip
    assert dropped.type == DROPPED and dropped.enabled is True and dropped.currency == "credits"
    assert len(dropped.id) == 16 and dropped.id.isalnum()
    assert dropped.customer is not None
    assert (dropped.customer.id, dropped.customer.external_customer_id) == (c.id, external)
    assert [t.value for t in dropped.thresholds or []] == [20.5, 100]  # distinct, ascending
    assert [(s.threshold_value, s.in_alert) for s in dropped.balance_alert_status or []] == [
        (20.5, False), (100, False)
    ]  # fmt: skip
    assert (dropped.metric, dropped.plan, dropped.subscription) == (None, None, None)
    assert abs(dropped.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    depleted = strict.alerts.create_for_external_customer(external, currency="USD", type=DEPLETED)
    assert (depleted.currency, depleted.thresholds) == ("USD", None)
    assert [(s.threshold_value, s.in_alert) for s in depleted.balance_alert_status or []] == [
        (0, False)
    ]  # fmt: skip
    body = raw(server, "GET", f"/alerts/{depleted.id}").json()
    assert set(body) == set(Alert.model_fields)  # every key the SDK's model has, sent
    assert body["customer"] == {"id": c.id, "external_customer_id": external}
    unused = ("metric", "plan", "subscription", "grouping_keys", "license_type",
              "price_filters", "threshold_overrides")  # fmt: skip
    assert [body[key] for key in unused] == [None] * len(unused)
    assert strict.alerts.retrieve(dropped.id) == dropped


def test_list_filters_by_customer_and_creation_time_newest_first(
    server: Server, strict: orb.Orb
) -> None:
    a, b = customer(strict), customer(strict)
    made = [strict.alerts.create_for_customer(a.id, currency=unit, type=DEPLETED)
            for unit in ("credits", "tokens", "minutes")]  # fmt: skip
    strict.alerts.create_for_customer(b.id, currency="credits", type=RECOVERED)
    newest_first = [m.id for m in reversed(made)]
    assert [x.id for x in strict.alerts.list(customer_id=a.id)] == newest_first
    assert [x.id for x in strict.alerts.list(external_customer_id=a.external_customer_id)] == (
        newest_first
    )
    page = strict.alerts.list(customer_id=a.id, limit=2)
    assert [x.id for x in page.data] == newest_first[:2] and page.has_next_page()
    assert [x.id for x in strict.alerts.list(customer_id=a.id, limit=1)] == newest_first
    after = strict.alerts.list(customer_id=a.id, created_at_gt=made[0].created_at)
    assert [x.id for x in after] == newest_first[:2]
    before = strict.alerts.list(customer_id=a.id, created_at_lte=made[0].created_at)
    assert [x.id for x in before] == [made[0].id]
    # drawdown has no subscriptions: no alert belongs to one.
    assert strict.alerts.list(customer_id=a.id, subscription_id="sub").data == []
    assert strict.alerts.list(subscription_id="sub").data == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "customer_id"),
        ({"customer_id": "x", "external_customer_id": "y"}, "external_customer_id"),
        ({"customer_id": "x", "limit": 0}, "limit"),
        ({"customer_id": "x", "cursor": "nope"}, "cursor"),
        ({"customer_id": "x", "created_at[gte]": "yesterday"}, "created_at[gte]"),
    ],
)
def test_bad_list_queries_are_refused_naming_the_parameter(
    server: Server, params: dict[str, Any], field: str
) -> None:
    response = raw(server, "GET", "/alerts", params=params)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["validation_errors"]] == [field]


def test_alerts_of_unknown_customers_and_unknown_alerts_are_not_found(
    server: Server, strict: orb.Orb
) -> None:
    with pytest.raises(orb.NotFoundError):
        strict.alerts.list(customer_id="nobody")
    with pytest.raises(orb.NotFoundError):
        strict.alerts.list(external_customer_id="nobody")
    rejected(server, orb.NotFoundError, "404-resource-not-found",
             strict.alerts.create_for_customer, "nobody", currency="credits",
             type=DEPLETED)  # fmt: skip
    rejected(server, orb.NotFoundError, "404-resource-not-found",
             strict.alerts.create_for_external_customer, "nobody", currency="credits",
             type=DEPLETED)  # fmt: skip
    calls: list[tuple[Any, dict[str, Any]]] = [
        (strict.alerts.retrieve, {}),
        (strict.alerts.update, {"thresholds": [{"value": 1}]}),
        (strict.alerts.enable, {}),
        (strict.alerts.disable, {}),
        (strict.alerts.delete, {}),
    ]
    for call, kwargs in calls:
        body = rejected(server, orb.NotFoundError, "404-resource-not-found", call, "nope1234",
                        **kwargs)  # fmt: skip
        assert body["detail"] == "Could not find a resource of type Alert with identifier: nope1234"


def test_update_enable_disable_and_delete(server: Server, strict: orb.Orb) -> None:
    c = customer(strict)
    alert = strict.alerts.create_for_customer(
        c.id, currency="credits", type=DROPPED, thresholds=[{"value": 10}]
    )
    updated = strict.alerts.update(alert.id, thresholds=[{"value": "7.25"}, {"value": 30}])
    assert [t.value for t in updated.thresholds or []] == [7.25, 30]
    assert (updated.id, updated.created_at, updated.enabled) == (
        alert.id, alert.created_at, True
    )  # fmt: skip
    # Orb's cost-alert fields: empty or null is "leave unchanged", so accepted.
    assert strict.alerts.update(alert.id, thresholds=[{"value": 30}], price_filters=[],
                                threshold_overrides=None).thresholds is not None  # fmt: skip
    disabled = strict.alerts.disable(alert.id)
    assert disabled.enabled is False and strict.alerts.retrieve(alert.id).enabled is False
    assert strict.alerts.disable(alert.id).enabled is False  # already disabled: no change
    assert strict.alerts.enable(alert.id).enabled is True
    depleted = strict.alerts.create_for_customer(c.id, currency="credits", type=DEPLETED)
    assert strict.alerts.update(depleted.id, thresholds=[]).thresholds is None
    assert strict.alerts.delete(alert.id) is None
    with pytest.raises(orb.NotFoundError):
        strict.alerts.retrieve(alert.id)
    assert [x.id for x in strict.alerts.list(customer_id=c.id)] == [depleted.id]
    again = strict.alerts.create_for_customer(  # deleted: the ledger may have one again
        c.id, currency="credits", type=DROPPED, thresholds=[{"value": 5}]
    )
    assert again.id != alert.id


def test_a_deleted_customer_takes_its_alerts_with_it(server: Server, strict: orb.Orb) -> None:
    c = customer(strict)
    alert = strict.alerts.create_for_customer(c.id, currency="credits", type=DEPLETED)
    strict.customers.delete(c.id)
    with pytest.raises(orb.NotFoundError):
        strict.alerts.retrieve(alert.id)
    with pytest.raises(orb.NotFoundError):
        strict.alerts.enable(alert.id)


def test_a_ledger_has_one_alert_of_each_type(server: Server, strict: orb.Orb) -> None:
    c = customer(strict, currency="USD")
    first = strict.alerts.create_for_customer(c.id, currency="usd", type=DEPLETED)
    assert first.currency == "USD"  # ISO codes are normalised, as for ledger entries
    body = rejected(server, orb.DuplicateResourceCreation, "400-duplicate-resource-creation",
                    strict.alerts.create_for_customer, c.id, currency="USD",
                    type=DEPLETED)  # fmt: skip
    assert first.id in body["detail"]
    # Other types, other ledgers (custom units are case-sensitive): all allowed.
    strict.alerts.create_for_customer(c.id, currency="USD", type=RECOVERED)
    strict.alerts.create_for_customer(c.id, currency="Credits", type=DEPLETED)
    strict.alerts.create_for_customer(c.id, currency="credits", type=DEPLETED)
    assert len(strict.alerts.list(customer_id=c.id).data) == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "credits", "type": "balance_low"}, "type"),
        ({"currency": "credits", "type": "usage_exceeded", "thresholds": [{"value": 1}]}, "type"),
        ({"currency": "credits", "type": DROPPED}, "thresholds"),
        ({"currency": "credits", "type": DROPPED, "thresholds": []}, "thresholds"),
        ({"currency": "credits", "type": DROPPED, "thresholds": None}, "thresholds"),
        ({"currency": "credits", "type": DROPPED,
          "thresholds": [{"value": 5}, {"value": -1}]}, "thresholds.1.value"),
        ({"currency": "credits", "type": DROPPED, "thresholds": [{"value": "ten"}]},
         "thresholds.0.value"),
        ({"currency": "credits", "type": DROPPED, "thresholds": [{"value": True}]},
         "thresholds.0.value"),
        ({"currency": "credits", "type": DROPPED,
          "thresholds": [{"value": n} for n in range(21)]}, "thresholds"),
        ({"currency": "credits", "type": DEPLETED, "thresholds": [{"value": 0}]}, "thresholds"),
        ({"currency": "credits", "type": RECOVERED, "thresholds": [{"value": 5}]}, "thresholds"),
        ({"type": DEPLETED}, "currency"),
        ({"currency": None, "type": DEPLETED}, "currency"),
        ({"currency": "", "type": DEPLETED}, "currency"),
        ({"currency": "x" * 65, "type": DEPLETED}, "currency"),
        ({"currency": "credits"}, "type"),
    ],
)  # fmt: skip
def test_bad_alerts_are_refused_naming_the_field(
    server: Server, strict: orb.Orb, body: dict[str, Any], field: str
) -> None:
    c = customer(strict)
    for path in (f"/alerts/customer_id/{c.id}",
                 f"/alerts/external_customer_id/{c.external_customer_id}"):  # fmt: skip
        error = raw_rejected(server, "POST", path, 400, "400-request-validation-errors", json=body)
        assert [e["field"] for e in error["validation_errors"]] == [field], error


def test_a_currency_that_is_not_the_customers_is_a_constraint_violation(
    server: Server, strict: orb.Orb
) -> None:
    c = customer(strict, currency="USD")
    body = rejected(server, orb.ConstraintViolation, "400-constraint-violation",
                    strict.alerts.create_for_customer, c.id, currency="EUR",
                    type=DEPLETED)  # fmt: skip
    assert body["detail"].startswith("EUR is not this customer's currency (USD)")
    bare = customer(strict)
    rejected(server, orb.ConstraintViolation, "400-constraint-violation",
             strict.alerts.create_for_customer, bare.id, currency="USD", type=DEPLETED)  # fmt: skip


@pytest.mark.parametrize(
    ("alert_type", "body", "field"),
    [
        (DROPPED, {"thresholds": []}, "thresholds"),
        (DROPPED, {}, "thresholds"),
        (DROPPED, {"thresholds": [{"value": -0.5}]}, "thresholds.0.value"),
        (DROPPED, {"thresholds": [{"value": 1}], "price_filters": [
            {"field": "item_id", "operator": "includes", "values": ["x"]}]}, "price_filters"),
        (DROPPED, {"thresholds": [{"value": 1}], "threshold_overrides": [
            {"group_values": ["a"], "thresholds": []}]}, "threshold_overrides"),
        (DEPLETED, {"thresholds": [{"value": 1}]}, "thresholds"),
    ],
)  # fmt: skip
def test_bad_updates_are_refused_and_change_nothing(
    server: Server, strict: orb.Orb, alert_type: str, body: dict[str, Any], field: str
) -> None:
    c = customer(strict)
    thresholds = [{"value": 3}] if alert_type == DROPPED else None
    alert = strict.alerts.create_for_customer(c.id, currency="credits", type=alert_type,
                                              thresholds=thresholds)  # fmt: skip
    error = raw_rejected(server, "PUT", f"/alerts/{alert.id}", 400,
                         "400-request-validation-errors", json=body)  # fmt: skip
    assert [e["field"] for e in error["validation_errors"]] == [field], error
    assert strict.alerts.retrieve(alert.id) == alert


def test_plan_and_subscription_alerts_are_not_available(server: Server, strict: orb.Orb) -> None:
    c = customer(strict)
    alert = strict.alerts.create_for_customer(c.id, currency="credits", type=DEPLETED)
    calls = [
        (strict.alerts.create_for_plan, ("plan1",),
         {"type": "cost_exceeded", "thresholds": [{"value": 1}]}),
        (strict.alerts.create_for_subscription, ("sub1",),
         {"type": "usage_exceeded", "thresholds": [{"value": 1}], "metric_id": "m"}),
        (strict.alerts.enable, (alert.id,), {"subscription_id": "sub1"}),
        (strict.alerts.disable, (alert.id,), {"subscription_id": "sub1"}),
    ]  # fmt: skip
    for call, args, kwargs in calls:
        body = rejected(server, orb.FeatureNotAvailable, "404-feature-not-available", call,
                        *args, **kwargs)  # fmt: skip
        assert body["status"] == 400 and "no plans or subscriptions" in body["detail"]
    assert strict.alerts.retrieve(alert.id).enabled is True


def test_creating_an_alert_is_idempotent_by_key(server: Server, strict: orb.Orb) -> None:
    c = customer(strict)
    key = unique("idem")
    first = strict.alerts.create_for_customer(c.id, currency="credits", type=DEPLETED,
                                              idempotency_key=key)  # fmt: skip
    again = strict.alerts.with_raw_response.create_for_customer(
        c.id, currency="credits", type=DEPLETED, idempotency_key=key
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.parse() == first
    assert len(strict.alerts.list(customer_id=c.id).data) == 1


# --- the credit settings: a view of the dropped alerts ------------------------------------------


def settings(server: Server, customer_id: str, body: dict[str, Any] | None = None) -> Any:
    path = f"/customers/{customer_id}/credits/settings"
    response = raw(server, "GET", path) if body is None else raw(server, "PUT", path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["balance_alert_thresholds"]


def test_credit_settings_show_and_write_the_dropped_alerts(server: Server, strict: orb.Orb) -> None:
    c = customer(strict)
    settings(server, c.id, {"balance_alert_thresholds": [
        {"value": 50}, {"value": 20}, {"currency": "tokens", "value": 5}]})  # fmt: skip
    made = {a.currency: a for a in strict.alerts.list(customer_id=c.id)}
    assert sorted(made) == ["credits", "tokens"]
    assert {a.type for a in made.values()} == {DROPPED}
    assert [t.value for t in made["credits"].thresholds or []] == [20, 50]
    strict.alerts.update(made["credits"].id, thresholds=[{"value": 70}])
    strict.alerts.disable(made["tokens"].id)
    minutes = strict.alerts.create_for_customer(c.id, currency="minutes", type=DROPPED,
                                                thresholds=[{"value": 9}])  # fmt: skip
    strict.alerts.create_for_customer(c.id, currency="credits", type=DEPLETED)
    assert settings(server, c.id) == [
        {"currency": "credits", "value": 70}, {"currency": "minutes", "value": 9},
        {"currency": "tokens", "value": 5},
    ]  # fmt: skip
    # Writing them again: changed in place (id, enabled kept), a ledger left out loses its
    # dropped alert, other types are not the settings' business.
    settings(server, c.id, {"balance_alert_thresholds": [
        {"value": 60}, {"currency": "tokens", "value": 4}]})  # fmt: skip
    now = {(a.currency, a.type): a for a in strict.alerts.list(customer_id=c.id)}
    assert sorted(now) == [("credits", DEPLETED), ("credits", DROPPED), ("tokens", DROPPED)]
    assert now["credits", DROPPED].id == made["credits"].id
    assert now["tokens", DROPPED].enabled is False
    assert [t.value for t in now["tokens", DROPPED].thresholds or []] == [4]
    with pytest.raises(orb.NotFoundError):
        strict.alerts.retrieve(minutes.id)
    settings(server, c.id, {"balance_alert_thresholds": None})
    assert [a.type for a in strict.alerts.list(customer_id=c.id)] == [DEPLETED]


def test_a_bad_settings_threshold_is_named_where_it_sits(server: Server, strict: orb.Orb) -> None:
    c = customer(strict)
    body = {"balance_alert_thresholds": [{"value": 5}, {"value": "ten"}]}
    error = raw_rejected(server, "PUT", f"/customers/{c.id}/credits/settings", 400,
                         "400-request-validation-errors", json=body)  # fmt: skip
    assert [e["field"] for e in error["validation_errors"]] == ["balance_alert_thresholds.1.value"]
    assert strict.alerts.list(customer_id=c.id).data == []
