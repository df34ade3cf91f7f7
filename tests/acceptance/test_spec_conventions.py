"""Black-box acceptance tests: the wire conventions: authentication, unknown paths, bodies and
validation errors (§1.1-§1.4, §1.8), data formats (§1.6: exact decimals, dates and timestamps,
metadata limits).

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from spec_support import (
    AUTH,
    FAR,
    URL_NOT_FOUND,
    VALIDATION,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    ts,
)

from conftest import Server, unique

# ============================================================== §1.4 / §1.8 basics


def test_1_4_missing_auth_is_401_with_exact_body(server: Server) -> None:
    r = httpx.get(server.base_url + "/customers")
    body = assert_error(r, 401, AUTH)
    assert body["title"] == "Authentication failure"


def test_1_4_unknown_key_is_401(server: Server) -> None:
    r = httpx.get(server.base_url + "/customers", headers={"Authorization": "Bearer nope"})
    assert_error(r, 401, AUTH)


def test_1_4_unauthenticated_unknown_path_is_401(server: Server) -> None:
    r = httpx.get(server.base_url + "/no/such/path")
    assert_error(r, 401, AUTH)


def test_1_1_unknown_path_is_404_url_not_found(api: Api) -> None:
    assert_error(api.call("GET", "/plans"), 404, URL_NOT_FOUND)


def test_E0_ping(api: Api) -> None:
    r = api.call("GET", "/ping", 200)
    assert r.json() == {"response": "pong"}


def test_1_2_body_not_json_object_is_400_validation(api: Api) -> None:
    r = api.call(
        "POST", "/customers", content=b"[1,2]", headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, VALIDATION)
    r = api.call(
        "POST", "/customers", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, VALIDATION)


def test_1_8_validation_errors_list_of_field_message(api: Api) -> None:
    r = api.call("POST", "/customers", json={"email": "a@b.example"})
    body = assert_error(r, 400, VALIDATION)
    assert body["title"] == "Request validation error"
    assert isinstance(body["validation_errors"], list) and body["validation_errors"]
    assert all(set(e) >= {"field", "message"} for e in body["validation_errors"])
    assert any("name" in e["field"] for e in body["validation_errors"])


# ============================================================== §1.6 data formats


def test_1_6_decimal_exactness_and_shortest_output(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=0.1)
    assert r.status_code == 201
    r = api.entry_raw(cust["id"], entry_type="increment", amount=0.2)
    body = api.body(r)
    assert body["ending_balance"] == Decimal("0.3")
    assert re.search(r'"ending_balance":\s*0\.3[,}\s]', r.text), r.text


def test_1_6_small_amount_never_exponent(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount="0.000001")
    assert r.status_code == 201, r.text
    assert re.search(r'"amount":\s*0\.000001[,}\s]', r.text), r.text
    tokens: list[str] = []
    json.loads(r.text, parse_float=lambda t: tokens.append(t), parse_int=lambda t: tokens.append(t))
    assert tokens and not [t for t in tokens if "e" in t.lower()], tokens


def test_1_6_integer_amount_written_without_fraction(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=100)
    assert re.search(r'"amount":\s*100[,}\s]', r.text), r.text
    assert re.search(r'"ending_balance":\s*100[,}\s]', r.text), r.text


def test_1_6_string_number_accepted(api: Api, cust: dict[str, Any]) -> None:
    e = api.inc(cust["id"], "12.5")
    assert e["amount"] == Decimal("12.5")


@pytest.mark.parametrize("bad", [True, "NaN", "Infinity", "0.0000000000001", "abc"])
def test_1_6_rejected_number_forms(api: Api, cust: dict[str, Any], bad: Any) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=bad)
    assert_error(r, 400, VALIDATION)


def test_1_6_cost_basis_keeps_caller_scale(api: Api, cust: dict[str, Any]) -> None:
    e = api.inc(cust["id"], 1, per_unit_cost_basis="0.500")
    assert e["credit_block"]["per_unit_cost_basis"] == "0.500"


def test_1_6_datetime_inputs_with_offset_and_naive(api: Api, cust: dict[str, Any]) -> None:
    e1 = api.inc(cust["id"], 1, expiry_date="2099-03-01T10:00:00+02:00")
    assert e1["credit_block"]["expiry_date"] == "2099-03-01T08:00:00Z"
    e2 = api.inc(cust["id"], 1, expiry_date="2099-03-01T10:00:00")
    assert e2["credit_block"]["expiry_date"] == "2099-03-01T10:00:00Z"
    e3 = api.inc(cust["id"], 1, expiry_date="2099-03-01T10:00:00.5-05:00")
    assert ts(e3["credit_block"]["expiry_date"]) == dt.datetime(
        2099, 3, 1, 15, 0, 0, 500000, dt.UTC
    ) or (e3["credit_block"]["expiry_date"] == "2099-03-01T15:00:00Z")


def test_1_6_bad_date_is_400(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=1, expiry_date="01/02/2099")
    assert_error(r, 400, VALIDATION)


# ============================================================== additional edge probes


@pytest.mark.parametrize(
    "metadata",
    [{f"k{i}": "v" for i in range(51)}, {"k" * 41: "v"}, {"": "v"}, {"k": "v" * 501}],
)
def test_1_6_metadata_limits(api: Api, metadata: dict[str, str]) -> None:
    r = api.call(
        "POST", "/customers", json={"name": "x", "email": "a@b.example", "metadata": metadata}
    )
    assert_error(r, 400, VALIDATION)


def test_1_6_metadata_at_limits_ok(api: Api) -> None:
    md = {f"{i:040d}": "v" * 500 for i in range(50)}
    assert api.customer(metadata=md)["metadata"] == md


def test_1_6_null_same_as_absent_on_update(api: Api) -> None:
    c = api.customer(currency="USD", external_customer_id=unique())
    u = api.update(c["id"], currency=None, external_customer_id=None, auto_issuance=None).json()
    assert u["currency"] == "USD"
    assert u["external_customer_id"] == c["external_customer_id"]


def test_1_6_null_same_as_absent_on_create(api: Api) -> None:
    c = api.customer(
        currency=None, timezone=None, metadata=None, additional_emails=None, email_delivery=None
    )
    assert c["timezone"] == "UTC" and c["metadata"] == {} and c["additional_emails"] == []
    assert c["email_delivery"] is True and c["currency"] is None


def test_1_2_trailing_slash_not_redirected(api: Api) -> None:
    r = api.call("GET", "/customers/")
    assert not (300 <= r.status_code < 400)
    assert r.status_code in (200, 404)


def test_1_6_timestamps_format(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 5, expiry_date=FAR)
    api.dec(cid, 1)
    created = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
    boundary = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    for e in api.chain(cid):
        assert created.fullmatch(e["created_at"]), e["created_at"]
    for b in api.blocks(cid):
        assert boundary.fullmatch(b["effective_date"]), b
        assert boundary.fullmatch(b["expiry_date"]), b


def test_1_6_twelve_fraction_digits_accepted(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount="0.000000000001")
    assert r.status_code == 201, r.text
    assert re.search(r'"amount":\s*0\.000000000001[,}\s]', r.text), r.text


def test_1_6_json_exponent_number_accepted(api: Api, cust: dict[str, Any]) -> None:
    r = api.call(
        "POST",
        f"/customers/{cust['id']}/credits/ledger_entry",
        content=b'{"entry_type": "increment", "amount": 1e2}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert re.search(r'"amount":\s*100[,}\s]', r.text), r.text
