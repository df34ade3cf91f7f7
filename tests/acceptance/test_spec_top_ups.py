"""Black-box acceptance tests: top-ups (§2.4, §3.6, E14-E19, R-TOP-1, R-TOP-6): creation,
validation, listing, replacement and deletion.

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from spec_support import (
    CONSTRAINT,
    NOT_FOUND,
    VALIDATION,
    customer,
    err,
    http_fixture,  # noqa: F401 (a fixture)
    iso,
    ok,
    top_up,
    top_ups,
)

from conftest import Server

# ============================================================== §2.4 / §3.6 top-ups


def test_s3_6_top_up_create_shape(http: httpx.Client) -> None:
    cus = customer(http)
    r = top_up(
        http,
        cus["id"],
        threshold="5.50",
        amount="100.0",
        cost="0.20",
        net_terms=7,
        invoice_settings={"memo": "auto", "require_successful_payment": False},
        expires_after=30,
        expires_after_unit="day",
    )
    tu = ok(r, 201)
    assert isinstance(tu["id"], str) and tu["id"]
    assert tu["currency"] == "credits"
    assert tu["amount"] == "100.0"
    assert tu["threshold"] == "5.50"
    assert tu["per_unit_cost_basis"] == "0.20"
    assert tu["invoice_settings"]["auto_collection"] is False
    assert tu["invoice_settings"]["net_terms"] == 7
    assert tu["invoice_settings"]["memo"] == "auto"
    assert tu["invoice_settings"]["require_successful_payment"] is False
    assert tu["expires_after"] == 30
    assert tu["expires_after_unit"] == "day"
    assert "active_from" not in tu


def test_s3_6_top_up_without_expiry_has_null_expiry_fields(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="0"), 201)
    assert tu["expires_after"] is None and tu["expires_after_unit"] is None


def test_s3_6_top_up_parses_with_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    sdk = server.client(_strict_response_validation=True)
    tu = sdk.customers.credits.top_ups.create(
        cus["id"],
        amount="50",
        currency="credits",
        invoice_settings={"auto_collection": True, "net_terms": 3},
        per_unit_cost_basis="1.00",
        threshold="1",
    )
    assert tu.amount == "50"
    listed = sdk.customers.credits.top_ups.list(cus["id"])
    assert [t.id for t in listed.data] == [tu.id]


def test_r_top_6_requires_customer_currency(http: httpx.Client) -> None:
    cus = customer(http, currency=None)
    err(top_up(http, cus["id"]), 400, CONSTRAINT)
    assert top_ups(http, cus["id"]) == []


def test_r_top_6_active_from_more_than_10_days_past_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    af = iso(datetime.now(UTC) - timedelta(days=11))
    err(top_up(http, cus["id"], active_from=af), 400)
    assert top_ups(http, cus["id"]) == []


def test_r_top_6_active_from_9_days_past_accepted(http: httpx.Client) -> None:
    cus = customer(http)
    af = iso(datetime.now(UTC) - timedelta(days=9))
    ok(top_up(http, cus["id"], threshold="0", active_from=af), 201)


def test_r_top_6_expires_after_without_unit_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    err(top_up(http, cus["id"], expires_after=3), 400)
    err(top_up(http, cus["id"], expires_after_unit="day"), 400)
    assert top_ups(http, cus["id"]) == []


def test_e14_amount_must_be_positive(http: httpx.Client) -> None:
    cus = customer(http)
    err(top_up(http, cus["id"], amount="0"), 400)


def test_e14_negative_threshold_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    err(top_up(http, cus["id"], threshold="-1"), 400)


def test_e14_missing_invoice_settings_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    r = http.post(
        f"/customers/{cus['id']}/credits/top_ups",
        json={"currency": "credits", "threshold": "1", "amount": "10", "per_unit_cost_basis": "1"},
    )
    err(r, 400, VALIDATION)


def test_e15_create_by_external_id(http: httpx.Client) -> None:
    cus = customer(http)
    r = http.post(
        f"/customers/external_customer_id/{cus['external_customer_id']}/credits/top_ups",
        json={
            "currency": "credits",
            "threshold": "0",
            "amount": "10",
            "per_unit_cost_basis": "1",
            "invoice_settings": {"auto_collection": False, "net_terms": 0},
        },
    )
    tu = ok(r, 201)
    assert [t["id"] for t in top_ups(http, cus["id"])] == [tu["id"]]
    listed = ok(
        http.get(f"/customers/external_customer_id/{cus['external_customer_id']}/credits/top_ups"),
        200,
    )
    assert [t["id"] for t in listed["data"]] == [tu["id"]]


def test_r_top_1_replacement_deactivates_old(http: httpx.Client) -> None:
    cus = customer(http)
    old = ok(top_up(http, cus["id"], threshold="0"), 201)
    new = ok(top_up(http, cus["id"], threshold="0", amount="200"), 201)
    assert new["id"] != old["id"]
    assert [t["id"] for t in top_ups(http, cus["id"])] == [new["id"]]
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{old['id']}"), 404, NOT_FOUND)


def test_e16_lists_one_per_currency_newest_first(http: httpx.Client) -> None:
    cus = customer(http)
    a = ok(top_up(http, cus["id"], currency="credits", threshold="0"), 201)
    time.sleep(0.01)
    b = ok(top_up(http, cus["id"], currency="tokens", threshold="0"), 201)
    assert [t["id"] for t in top_ups(http, cus["id"])] == [b["id"], a["id"]]


def test_e18_delete_then_404(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="0"), 201)
    r = http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}")
    assert r.status_code == 204
    assert top_ups(http, cus["id"]) == []
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}"), 404, NOT_FOUND)


def test_e18_delete_other_customers_top_up_404(http: httpx.Client) -> None:
    a = customer(http)
    b = customer(http)
    tu = ok(top_up(http, a["id"], threshold="0"), 201)
    err(http.delete(f"/customers/{b['id']}/credits/top_ups/{tu['id']}"), 404, NOT_FOUND)
    assert [t["id"] for t in top_ups(http, a["id"])] == [tu["id"]]


def test_e19_delete_by_external_id(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="0"), 201)
    r = http.delete(
        f"/customers/external_customer_id/{cus['external_customer_id']}/credits/top_ups/{tu['id']}"
    )
    assert r.status_code == 204
    assert top_ups(http, cus["id"]) == []


def test_r_top_1_per_currency_independent(http: httpx.Client) -> None:
    cus = customer(http)
    a = ok(top_up(http, cus["id"], currency="credits", threshold="0"), 201)
    b = ok(top_up(http, cus["id"], currency="tokens", threshold="0"), 201)
    c = ok(top_up(http, cus["id"], currency="tokens", threshold="0", amount="5"), 201)
    assert {t["id"] for t in top_ups(http, cus["id"])} == {a["id"], c["id"]}
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{b['id']}"), 404)


# ============================================================== more edges


def test_r_cur_2_top_up_real_currency_mismatch_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http, currency="USD")
    err(top_up(http, cus["id"], currency="EUR"), 400, CONSTRAINT)


@pytest.mark.parametrize(
    "bad",
    [
        {"per_unit_cost_basis": "-1"},
        {"expires_after": 0, "expires_after_unit": "day"},
        {"expires_after": 2, "expires_after_unit": "week"},
        {"threshold": "abc"},
        {"invoice_settings": {"net_terms": -1}},
    ],
)
def test_e14_invalid_fields_rejected(
    http: httpx.Client, server: Server, bad: dict[str, Any]
) -> None:
    cus = customer(http)
    body: dict[str, Any] = {
        "currency": "credits",
        "threshold": "1",
        "amount": "10",
        "per_unit_cost_basis": "1",
        "invoice_settings": {"auto_collection": False, "net_terms": 0},
    }
    for k, v in bad.items():
        if k == "invoice_settings":
            body[k] = {**body[k], **v}
        else:
            body[k] = v
    err(http.post(f"/customers/{cus['id']}/credits/top_ups", json=body), 400)
    assert top_ups(http, cus["id"]) == []
