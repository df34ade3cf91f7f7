"""Black-box acceptance tests: customers (§2.1, §4.18) and the credit ledger (§2.2, §2.3, §3, §4).

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
from decimal import Decimal
from typing import Any

import httpx
import orb
import pytest

from conftest import Server, unique

ERR = "https://docs.withorb.com/reference/error-responses#"
VALIDATION = ERR + "400-request-validation-errors"
CONSTRAINT = ERR + "400-constraint-violation"
DUPLICATE = ERR + "400-duplicate-resource-creation"
NOT_FOUND = ERR + "404-resource-not-found"
URL_NOT_FOUND = ERR + "404-url-not-found"
AUTH = ERR + "401-authentication-error"

FAR = "2099-04-01"  # a far-future expiry date


# --------------------------------------------------------------------------- helpers


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(d: dt.datetime) -> str:
    return d.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    def __init__(self, h: httpx.Client) -> None:
        self.h = h

    @staticmethod
    def body(r: httpx.Response) -> Any:
        return json.loads(r.text, parse_float=Decimal) if r.content else None

    def call(self, method: str, path: str, expect: int | None = None, **kw: Any) -> httpx.Response:
        r = self.h.request(method, path, **kw)
        if expect is not None:
            assert r.status_code == expect, (r.status_code, r.text)
        return r

    # customers
    def customer(self, **kw: Any) -> dict[str, Any]:
        body = {"name": "Acme", "email": "billing@example.com", **kw}
        return self.body(self.call("POST", "/customers", 201, json=body))

    def get_customer(self, cid: str) -> dict[str, Any]:
        return self.body(self.call("GET", f"/customers/{cid}", 200))

    def update(self, cid: str, expect: int = 200, **body: Any) -> httpx.Response:
        return self.call("PUT", f"/customers/{cid}", expect, json=body)

    # ledger
    def entry_raw(self, cid: str, **body: Any) -> httpx.Response:
        return self.call("POST", f"/customers/{cid}/credits/ledger_entry", json=body)

    def entry(self, cid: str, **body: Any) -> dict[str, Any]:
        r = self.entry_raw(cid, **body)
        assert r.status_code == 201, (r.status_code, r.text)
        return self.body(r)

    def inc(self, cid: str, amount: Any, **kw: Any) -> dict[str, Any]:
        return self.entry(cid, entry_type="increment", amount=amount, **kw)

    def dec(self, cid: str, amount: Any, **kw: Any) -> dict[str, Any]:
        return self.entry(cid, entry_type="decrement", amount=amount, **kw)

    def ledger(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 100)
        r = self.call("GET", f"/customers/{cid}/credits/ledger", 200, params=params)
        return self.body(r)["data"]

    def chain(self, cid: str, currency: str = "credits") -> list[dict[str, Any]]:
        """Entries of one ledger in ascending sequence order."""
        return sorted(
            self.ledger(cid, currency=currency), key=lambda e: e["ledger_sequence_number"]
        )

    def blocks(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 100)
        r = self.call("GET", f"/customers/{cid}/credits", 200, params=params)
        return self.body(r)["data"]

    def all_blocks(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        return self.blocks(cid, include_all_blocks="true", **params)

    def block(self, block_id: str) -> dict[str, Any]:
        return self.body(self.call("GET", f"/credit_blocks/{block_id}", 200))


def assert_error(r: httpx.Response, status: int, type_uri: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].split(";")[0].strip().endswith("json")
    body = r.json()
    assert body["type"] == type_uri, body
    assert body["status"] == status
    return body


@pytest.fixture
def api(server: Server) -> Any:
    with server.http() as h:
        yield Api(h)


@pytest.fixture
def cust(api: Api) -> dict[str, Any]:
    return api.customer(external_customer_id=unique("acc"))


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


# ============================================================== §2.1 customers


def test_E1_create_returns_201_with_spec_defaults(api: Api) -> None:
    c = api.customer()
    assert re.fullmatch(r"[A-Za-z0-9]{16}", c["id"])
    assert c["name"] == "Acme" and c["email"] == "billing@example.com"
    expected = {
        "external_customer_id": None,
        "additional_emails": [],
        "currency": None,
        "timezone": "UTC",
        "metadata": {},
        "balance": "0.00",
        "auto_collection": False,
        "auto_issuance": None,
        "email_delivery": True,
        "payment_provider": None,
        "payment_provider_id": None,
        "billing_address": None,
        "shipping_address": None,
        "tax_id": None,
        "hierarchy": {"children": [], "parent": None},
        "portal_url": None,
        "exempt_from_automated_tax": None,
        "automatic_tax_enabled": False,
        "accounting_sync_configuration": None,
        "default_payment_method": None,
        "payment_configuration": None,
        "reporting_configuration": None,
    }
    for key, value in expected.items():
        assert key in c, key
        assert c[key] == value, (key, c[key])
    assert c["created_at"].endswith("Z")
    assert abs((parse_ts(c["created_at"]) - utcnow()).total_seconds()) < 60


def test_E1_auto_collection_defaults_true_with_payment_provider(api: Api) -> None:
    c = api.customer(payment_provider="stripe_charge", payment_provider_id="cus_1")
    assert c["auto_collection"] is True
    assert c["payment_provider"] == "stripe_charge"
    assert c["payment_provider_id"] == "cus_1"


def test_E1_currency_stored_upper_case(api: Api) -> None:
    assert api.customer(currency="usd")["currency"] == "USD"


def test_E1_non_iso_currency_is_400(api: Api) -> None:
    r = api.call(
        "POST", "/customers", json={"name": "x", "email": "a@b.example", "currency": "credits"}
    )
    assert r.status_code == 400


def test_E1_invalid_timezone_is_400(api: Api) -> None:
    r = api.call(
        "POST", "/customers", json={"name": "x", "email": "a@b.example", "timezone": "Mars/Base"}
    )
    assert r.status_code == 400


def test_E1_invalid_email_is_400_validation(api: Api) -> None:
    r = api.call("POST", "/customers", json={"name": "x", "email": "not-an-email"})
    assert_error(r, 400, VALIDATION)


def test_E1_blank_name_is_400_validation(api: Api) -> None:
    r = api.call("POST", "/customers", json={"name": "   ", "email": "a@b.example"})
    assert_error(r, 400, VALIDATION)


def test_E1_echoes_stored_fields(api: Api) -> None:
    addr = {
        "city": "Paris",
        "country": "FR",
        "line1": "1 rue",
        "line2": None,
        "postal_code": "75001",
        "state": None,
    }
    tax = {"country": "FR", "type": "eu_vat", "value": "FR123"}
    c = api.customer(
        timezone="America/Los_Angeles",
        additional_emails=["x@example.com"],
        auto_issuance=True,
        email_delivery=False,
        billing_address=addr,
        tax_id=tax,
    )
    assert c["timezone"] == "America/Los_Angeles"
    assert c["additional_emails"] == ["x@example.com"]
    assert c["auto_issuance"] is True
    assert c["email_delivery"] is False
    assert c["billing_address"] == addr
    assert c["shipping_address"] is None
    assert c["tax_id"] == tax


def test_E1_metadata_null_values_dropped(api: Api) -> None:
    c = api.customer(metadata={"a": "1", "b": None})
    assert c["metadata"] == {"a": "1"}


def test_R_CUS_1_duplicate_external_id_on_create(api: Api) -> None:
    ext = unique()
    api.customer(external_customer_id=ext)
    r = api.call(
        "POST",
        "/customers",
        json={"name": "x", "email": "a@b.example", "external_customer_id": ext},
    )
    body = assert_error(r, 400, DUPLICATE)
    assert body["title"] == "Duplicate resource creation"


def test_E3_unknown_customer_is_404_resource_not_found(api: Api) -> None:
    body = assert_error(api.call("GET", "/customers/doesnotexist1234"), 404, NOT_FOUND)
    assert body["title"] == "A specified resource was not found."


def test_E4_fetch_by_external_id(api: Api, cust: dict[str, Any]) -> None:
    r = api.call("GET", f"/customers/external_customer_id/{cust['external_customer_id']}", 200)
    assert r.json()["id"] == cust["id"]


def test_E5_partial_update_keeps_other_fields(api: Api) -> None:
    c = api.customer(metadata={"a": "1"}, email_delivery=False)
    u = api.update(c["id"], name="New").json()
    assert u["name"] == "New"
    assert u["email"] == c["email"]
    assert u["email_delivery"] is False
    assert u["metadata"] == {"a": "1"}


def test_R_META_1_customer_metadata_merge_remove_clear(api: Api) -> None:
    c = api.customer(metadata={"a": "1", "b": "2"})
    u = api.update(c["id"], metadata={"b": "3", "c": "4"}).json()
    assert u["metadata"] == {"a": "1", "b": "3", "c": "4"}
    u = api.update(c["id"], metadata={"a": None, "zz": None}).json()
    assert u["metadata"] == {"b": "3", "c": "4"}
    u = api.update(c["id"], metadata=None).json()
    assert u["metadata"] == {}


def test_E5_currency_set_once(api: Api) -> None:
    c = api.customer()
    assert api.update(c["id"], currency="eur").json()["currency"] == "EUR"
    assert api.update(c["id"], currency="EUR").json()["currency"] == "EUR"  # same value: no-op
    assert_error(api.update(c["id"], expect=None, currency="USD"), 400, CONSTRAINT)


def test_E5_external_id_set_once(api: Api) -> None:
    c = api.customer()
    ext = unique()
    assert api.update(c["id"], external_customer_id=ext).json()["external_customer_id"] == ext
    api.update(c["id"], external_customer_id=ext)
    assert_error(api.update(c["id"], expect=None, external_customer_id=unique()), 400, CONSTRAINT)


def test_R_CUS_1_duplicate_external_id_on_update(api: Api, cust: dict[str, Any]) -> None:
    other = api.customer()
    r = api.update(other["id"], expect=None, external_customer_id=cust["external_customer_id"])
    assert_error(r, 400, DUPLICATE)


def test_E5_name_or_email_null_is_400_validation(api: Api, cust: dict[str, Any]) -> None:
    assert_error(api.update(cust["id"], expect=None, name=None), 400, VALIDATION)
    assert_error(api.update(cust["id"], expect=None, email=None), 400, VALIDATION)


def test_R_TZ_3_timezone_not_updatable_ignored(api: Api) -> None:
    c = api.customer(timezone="Europe/Paris")
    u = api.update(c["id"], timezone="Asia/Tokyo").json()
    assert u["timezone"] == "Europe/Paris"


def test_E5_default_payment_method_id(api: Api, cust: dict[str, Any]) -> None:
    api.update(cust["id"], default_payment_method_id=None)
    assert_error(
        api.update(cust["id"], expect=None, default_payment_method_id="pm_1"), 404, NOT_FOUND
    )


def test_E6_update_by_external_id(api: Api, cust: dict[str, Any]) -> None:
    r = api.call(
        "PUT",
        f"/customers/external_customer_id/{cust['external_customer_id']}",
        200,
        json={"name": "Ext"},
    )
    assert r.json()["id"] == cust["id"] and r.json()["name"] == "Ext"


def test_E7_delete_soft_and_frees_external_id(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 10)
    r = api.call("DELETE", f"/customers/{cust['id']}", 204)
    assert r.content == b""
    assert_error(api.call("GET", f"/customers/{cust['id']}"), 404, NOT_FOUND)
    ext = cust["external_customer_id"]
    assert_error(api.call("GET", f"/customers/external_customer_id/{ext}"), 404, NOT_FOUND)
    assert_error(api.call("GET", f"/customers/{cust['id']}/credits"), 404, NOT_FOUND)
    assert_error(api.call("GET", f"/customers/{cust['id']}/credits/ledger"), 404, NOT_FOUND)
    assert_error(api.call("DELETE", f"/customers/{cust['id']}"), 404, NOT_FOUND)
    again = api.customer(external_customer_id=ext)
    assert again["id"] != cust["id"]


def test_R_CUS_3_deleted_customer_blocks_are_404(api: Api, cust: dict[str, Any]) -> None:
    e = api.inc(cust["id"], 10)
    api.call("DELETE", f"/customers/{cust['id']}", 204)
    assert_error(api.call("GET", f"/credit_blocks/{e['credit_block']['id']}"), 404, NOT_FOUND)


def test_E2_list_newest_first_and_excludes_deleted(api: Api) -> None:
    t0 = iso(utcnow() - dt.timedelta(seconds=2))
    ids = [api.customer()["id"] for _ in range(3)]
    api.call("DELETE", f"/customers/{ids[1]}", 204)
    r = api.call("GET", "/customers", 200, params={"created_at[gte]": t0, "limit": 100})
    listed = [c["id"] for c in r.json()["data"] if c["id"] in ids]
    assert listed == [ids[2], ids[0]]


def test_1_7_customer_pagination_walk(api: Api) -> None:
    t0 = iso(utcnow() - dt.timedelta(seconds=1))
    ids = [api.customer()["id"] for _ in range(3)]
    seen: list[str] = []
    params: dict[str, Any] = {"created_at[gte]": t0, "limit": 1}
    while True:
        body = api.call("GET", "/customers", 200, params=params).json()
        meta = body["pagination_metadata"]
        assert len(body["data"]) <= 1
        seen += [c["id"] for c in body["data"]]
        if not meta["has_more"]:
            assert meta["next_cursor"] is None
            break
        assert isinstance(meta["next_cursor"], str) and meta["next_cursor"]
        params["cursor"] = meta["next_cursor"]
    mine = [i for i in seen if i in ids]
    assert mine == list(reversed(ids))
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1"])
def test_1_7_limit_out_of_range_is_400(api: Api, limit: str) -> None:
    assert_error(api.call("GET", "/customers", params={"limit": limit}), 400, VALIDATION)


def test_1_7_limit_100_allowed(api: Api) -> None:
    api.call("GET", "/customers", 200, params={"limit": 100})


def test_1_7_malformed_cursor_is_400(api: Api, cust: dict[str, Any]) -> None:
    assert_error(api.call("GET", "/customers", params={"cursor": "!!garbage!!"}), 400, VALIDATION)
    r = api.call("GET", f"/customers/{cust['id']}/credits/ledger", params={"cursor": "!!garbage!!"})
    assert_error(r, 400, VALIDATION)


def test_R_CUS_4_new_customer_has_empty_pages(api: Api, cust: dict[str, Any]) -> None:
    for path in ("credits", "credits/ledger"):
        body = api.call("GET", f"/customers/{cust['id']}/{path}", 200).json()
        assert body == {"data": [], "pagination_metadata": {"has_more": False, "next_cursor": None}}


def test_2_unknown_customer_ledger_paths_are_404(api: Api) -> None:
    assert_error(
        api.entry_raw("nosuchcustomer12", entry_type="increment", amount=1), 404, NOT_FOUND
    )
    assert_error(api.call("GET", "/customers/nosuchcustomer12/credits"), 404, NOT_FOUND)


# ============================================================== increments (§4.6, §3.4)


def test_1_3_ledger_entry_create_is_201(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=5)
    assert r.status_code == 201
    assert r.headers["content-type"].startswith("application/json")


def test_R_INC_2_increment_entry_fields(api: Api, cust: dict[str, Any]) -> None:
    e = api.inc(
        cust["id"],
        100,
        expiry_date=FAR,
        per_unit_cost_basis="0.20",
        description="welcome",
        metadata={"k": "v", "drop": None},
    )
    assert e["entry_type"] == "increment"
    assert e["entry_status"] == "committed"
    assert e["ledger_sequence_number"] == 1
    assert e["amount"] == 100
    assert e["starting_balance"] == 0 and e["ending_balance"] == 100
    assert e["currency"] == "credits"
    assert e["description"] == "welcome"
    assert e["metadata"] == {"k": "v"}
    assert e["created_invoices"] is None
    assert e["customer"] == {"id": cust["id"], "external_customer_id": cust["external_customer_id"]}
    assert e["credit_block"] == {
        "id": e["credit_block"]["id"],
        "expiry_date": "2099-04-01T00:00:00Z",
        "per_unit_cost_basis": "0.20",
        "filters": [],
    }
    assert e["created_at"].endswith("Z")


def test_R_INC_2_block_fields(api: Api, cust: dict[str, Any]) -> None:
    flt = [{"field": "item_id", "operator": "includes", "values": ["i1"]}]
    e = api.inc(
        cust["id"],
        100,
        expiry_date=FAR,
        per_unit_cost_basis="0.20",
        metadata={"k": "v"},
        filters=flt,
    )
    b = api.block(e["credit_block"]["id"])
    assert b["id"] == e["credit_block"]["id"]
    assert b["balance"] == 100 and b["maximum_initial_balance"] == 100
    assert b["expiry_date"] == "2099-04-01T00:00:00Z"
    assert b["per_unit_cost_basis"] == "0.20"
    assert b["filters"] == flt
    assert b["metadata"] == {"k": "v"}
    assert b["status"] == "active"
    assert b["credit_block_source"] == "manual"
    assert b["credit_allocation"] is None and b["credit_commitment"] is None


def test_R_PEND_6_default_effective_date_is_now(api: Api, cust: dict[str, Any]) -> None:
    before = utcnow().replace(microsecond=0)
    e = api.inc(cust["id"], 1)
    b = api.block(e["credit_block"]["id"])
    eff = parse_ts(b["effective_date"])
    assert "." not in b["effective_date"] and b["effective_date"].endswith("Z")
    assert before - dt.timedelta(seconds=2) <= eff <= utcnow() + dt.timedelta(seconds=2)
    assert b["expiry_date"] is None


@pytest.mark.parametrize("amount", [0, -5])
def test_R_INC_3_amount_must_be_positive(api: Api, cust: dict[str, Any], amount: int) -> None:
    body = assert_error(
        api.entry_raw(cust["id"], entry_type="increment", amount=amount), 400, VALIDATION
    )
    assert any("amount" in e["field"] for e in body["validation_errors"])


def test_R_INC_3_expiry_must_follow_effective(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(
        cust["id"],
        entry_type="increment",
        amount=5,
        effective_date="2099-01-02",
        expiry_date="2099-01-01",
    )
    assert_error(r, 400, VALIDATION)
    r = api.entry_raw(
        cust["id"],
        entry_type="increment",
        amount=5,
        effective_date="2099-01-01",
        expiry_date="2099-01-01",
    )
    assert_error(r, 400, VALIDATION)


def test_R_INC_3_negative_cost_basis_rejected(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=5, per_unit_cost_basis="-0.10")
    assert_error(r, 400, VALIDATION)


def test_R_INC_3_cost_basis_without_invoice_settings_creates_no_invoice(
    api: Api, cust: dict[str, Any]
) -> None:
    e = api.inc(cust["id"], 5, per_unit_cost_basis="1.50")
    assert e["created_invoices"] is None


def test_E12_unknown_entry_type_is_400(api: Api, cust: dict[str, Any]) -> None:
    assert api.entry_raw(cust["id"], entry_type="gift", amount=5).status_code == 400


def test_3_5_decrement_rejects_other_shape_fields(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 10)
    r = api.entry_raw(cust["id"], entry_type="decrement", amount=1, expiry_date=FAR)
    assert r.status_code == 400
    r = api.entry_raw(cust["id"], entry_type="decrement", amount=1, block_id="abc")
    assert r.status_code == 400


def test_E13_create_entry_by_external_id(api: Api, cust: dict[str, Any]) -> None:
    r = api.call(
        "POST",
        f"/customers/external_customer_id/{cust['external_customer_id']}/credits/ledger_entry",
        201,
        json={"entry_type": "increment", "amount": 7},
    )
    assert r.json()["customer"]["id"] == cust["id"]
    r = api.call(
        "GET", f"/customers/external_customer_id/{cust['external_customer_id']}/credits/ledger", 200
    )
    assert [e["amount"] for e in r.json()["data"]] == [7]
    r = api.call(
        "GET", f"/customers/external_customer_id/{cust['external_customer_id']}/credits", 200
    )
    assert [b["balance"] for b in r.json()["data"]] == [7]


def test_sdk_roundtrip_increment_and_list(server: Server, cust: dict[str, Any]) -> None:
    with server.client(_strict_response_validation=True) as client:
        e = client.customers.credits.ledger.create_entry(
            cust["id"], entry_type="increment", amount=12.5
        )
        assert e.entry_type == "increment" and e.amount == 12.5
        page = client.customers.credits.ledger.list(cust["id"])
        assert [x.id for x in page.data] == [e.id]
        blocks = client.customers.credits.list(cust["id"])
        assert blocks.data[0].balance == 12.5
        c = client.customers.fetch(cust["id"])
        assert c.id == cust["id"]


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
    assert parse_ts(e3["credit_block"]["expiry_date"]) == dt.datetime(
        2099, 3, 1, 15, 0, 0, 500000, dt.UTC
    ) or (e3["credit_block"]["expiry_date"] == "2099-03-01T15:00:00Z")


def test_1_6_bad_date_is_400(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=1, expiry_date="01/02/2099")
    assert_error(r, 400, VALIDATION)


# ============================================================== §4.4 timezone


def test_R_TZ_1_date_only_in_customer_timezone(api: Api) -> None:
    c = api.customer(timezone="America/Los_Angeles")
    e = api.inc(c["id"], 5, expiry_date="2099-12-28", effective_date="2099-06-01")
    assert e["credit_block"]["expiry_date"] == "2099-12-28T08:00:00Z"
    b = api.block(e["credit_block"]["id"])
    assert b["effective_date"] == "2099-06-01T07:00:00Z"  # PDT in June


def test_R_TZ_1_spec_example_2024_12_28(api: Api) -> None:
    c = api.customer(timezone="America/Los_Angeles")
    e = api.inc(c["id"], 5, effective_date="2024-01-01", expiry_date="2024-12-28")
    assert e["credit_block"]["expiry_date"] == "2024-12-28T08:00:00Z"


def test_R_TZ_1_east_of_utc(api: Api) -> None:
    c = api.customer(timezone="Asia/Tokyo")
    e = api.inc(c["id"], 5, expiry_date="2099-01-01")
    assert e["credit_block"]["expiry_date"] == "2098-12-31T15:00:00Z"


# ============================================================== §4.1 / §4.2 chain & sequence


def test_R_BAL_chain_and_R_SEQ_1(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b1 = api.inc(cid, 100)["credit_block"]["id"]
    api.dec(cid, 30)
    api.inc(cid, 50, expiry_date=FAR)
    api.entry(cid, entry_type="amendment", block_id=b1, amount=10)
    api.entry(cid, entry_type="void", block_id=b1, amount=5)
    api.entry(
        cid, entry_type="expiration_change", block_id=b1, amount=20, target_expiry_date="2099-09-09"
    )
    chain = api.chain(cid)
    assert [e["ledger_sequence_number"] for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0]["starting_balance"] == 0
    for prev, nxt in itertools.pairwise(chain):
        assert nxt["starting_balance"] == prev["ending_balance"]
    sign = {
        "increment": 1,
        "decrement": -1,
        "amendment": 1,
        "void": -1,
        "expiration_change": 0,
        "credit_block_expiry": -1,
        "void_initiated": 0,
    }
    for e in chain:
        assert e["ending_balance"] - e["starting_balance"] == sign[e["entry_type"]] * e["amount"], e
        assert e["amount"] >= 0
    # R-BAL-4 / R-BAL-5
    assert (
        chain[-1]["ending_balance"]
        == 100 - 30 + 50 + 10 - 5
        == sum(b["balance"] for b in api.blocks(cid))
    )


def test_R_SEQ_1_independent_per_currency(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    t = api.inc(cid, 7, currency="tokens")
    api.inc(cid, 5)
    t2 = api.dec(cid, 2, currency="tokens")
    assert (
        t["ledger_sequence_number"] == 1
        and t["starting_balance"] == 0
        and t["currency"] == "tokens"
    )
    assert t2["ledger_sequence_number"] == 2 and t2["ending_balance"] == 5
    assert [e["ledger_sequence_number"] for e in api.chain(cid)] == [1, 2]
    assert api.chain(cid)[-1]["ending_balance"] == 15
    assert [b["balance"] for b in api.blocks(cid, currency="tokens")] == [5]
    assert [b["balance"] for b in api.blocks(cid)] == [10, 5]


def test_R_CUR_3_pricing_unit_case_sensitive(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 3, currency="Tokens")
    assert api.blocks(cust["id"], currency="tokens") == []
    assert len(api.blocks(cust["id"], currency="Tokens")) == 1


def test_E10_without_currency_lists_all_ledgers(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 1)
    api.inc(cid, 2, currency="tokens")
    assert sorted(e["currency"] for e in api.ledger(cid)) == ["credits", "tokens"]
    assert [e["currency"] for e in api.ledger(cid, currency="tokens")] == ["tokens"]


def test_R_SEQ_4_ledger_order_descending_sequence(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 30, expiry_date=FAR)
    api.inc(cid, 30)
    api.dec(cid, 40)  # two entries, same created_at
    seqs = [e["ledger_sequence_number"] for e in api.ledger(cid, currency="credits")]
    assert seqs == [4, 3, 2, 1]


def test_R_SEQ_3_created_at_non_decreasing(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    for i in range(3):
        api.inc(cid, 10 + i, expiry_date=FAR)
    api.dec(cid, 25)
    chain = api.chain(cid)
    ts = [parse_ts(e["created_at"]) for e in chain]
    assert ts == sorted(ts)


def test_1_7_ledger_pagination_keyset_no_dupes(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    for i in range(5):
        api.inc(cid, i + 1)
    body = api.call("GET", f"/customers/{cid}/credits/ledger", 200, params={"limit": 2}).json()
    assert [e["ledger_sequence_number"] for e in body["data"]] == [5, 4]
    assert body["pagination_metadata"]["has_more"] is True
    cursor = body["pagination_metadata"]["next_cursor"]
    api.inc(cid, 99)  # insert at the head after first page
    seqs = [5, 4]
    while cursor:
        body = api.call(
            "GET", f"/customers/{cid}/credits/ledger", 200, params={"limit": 2, "cursor": cursor}
        ).json()
        seqs += [e["ledger_sequence_number"] for e in body["data"]]
        cursor = body["pagination_metadata"]["next_cursor"]
        assert (cursor is not None) == body["pagination_metadata"]["has_more"]
    assert seqs == [5, 4, 3, 2, 1]


def test_1_7_exact_page_boundary_has_more_false(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 1)
    api.inc(cid, 2)
    body = api.call("GET", f"/customers/{cid}/credits/ledger", 200, params={"limit": 2}).json()
    assert len(body["data"]) == 2
    assert body["pagination_metadata"] == {"has_more": False, "next_cursor": None}


def test_R_LIST_3_minimum_amount_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    api.inc(cid, 50)
    api.inc(cid, 49.5)
    got = sorted(e["amount"] for e in api.ledger(cid, minimum_amount="49.5"))
    assert got == [Decimal("49.5"), 50]


def test_E10_entry_type_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    api.dec(cid, 3)
    got = api.ledger(cid, entry_type="decrement")
    assert [e["entry_type"] for e in got] == ["decrement"]
    assert (
        api.call(
            "GET", f"/customers/{cid}/credits/ledger", params={"entry_type": "bogus"}
        ).status_code
        == 400
    )


def test_E10_created_at_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 1)
    future = iso(utcnow() + dt.timedelta(hours=1))
    assert api.ledger(cid, **{"created_at[gte]": future}) == []
    past = iso(utcnow() - dt.timedelta(hours=1))
    assert len(api.ledger(cid, **{"created_at[gte]": past})) == 1


# ============================================================== §4.7 decrement


def _worked_example(api: Api, cid: str) -> tuple[str, str, str]:
    a = api.inc(cid, 30, expiry_date=FAR, per_unit_cost_basis="0.00")["credit_block"]["id"]
    b = api.inc(cid, 50, expiry_date=FAR, per_unit_cost_basis="0.10")["credit_block"]["id"]
    c = api.inc(cid, 100, per_unit_cost_basis="0.10")["credit_block"]["id"]
    return a, b, c


def test_4_7_worked_example_decrement_100(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    a, b, c = _worked_example(api, cid)
    resp = api.dec(cid, 100, description="usage", metadata={"m": "1"})
    assert resp["credit_block"]["id"] == c
    assert (
        resp["ledger_sequence_number"],
        resp["amount"],
        resp["starting_balance"],
        resp["ending_balance"],
    ) == (6, 20, 100, 80)
    decs = [e for e in api.chain(cid) if e["entry_type"] == "decrement"]
    got = [
        (
            e["ledger_sequence_number"],
            e["credit_block"]["id"],
            e["amount"],
            e["starting_balance"],
            e["ending_balance"],
        )
        for e in decs
    ]
    assert got == [(4, a, 30, 180, 150), (5, b, 50, 150, 100), (6, c, 20, 100, 80)]
    # R-DED-5: shared description, metadata, created_at; R-DED-6 nulls
    assert {e["description"] for e in decs} == {"usage"}
    assert all(e["metadata"] == {"m": "1"} for e in decs)
    assert len({e["created_at"] for e in decs}) == 1
    assert all(
        e["event_id"] is None and e["invoice_id"] is None and e["price_id"] is None for e in decs
    )
    assert all(e["entry_status"] == "committed" for e in decs)


def test_4_7_worked_example_further_decrement_200(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    a, b, c = _worked_example(api, cid)
    api.dec(cid, 100)
    resp = api.dec(cid, 200)
    assert resp["credit_block"]["id"] == c
    assert (resp["amount"], resp["starting_balance"], resp["ending_balance"]) == (200, 80, -120)
    assert len(api.chain(cid)) == 7
    assert api.block(c)["balance"] == -120
    assert api.block(a)["balance"] == 0 and api.block(b)["balance"] == 0


def test_R_DED_2_expiry_ascending_never_last(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    never = api.inc(cid, 10)["credit_block"]["id"]
    late = api.inc(cid, 10, expiry_date="2099-06-01")["credit_block"]["id"]
    soon = api.inc(cid, 10, expiry_date="2099-01-01")["credit_block"]["id"]
    api.dec(cid, 25)
    decs = [e for e in api.chain(cid) if e["entry_type"] == "decrement"]
    assert [(e["credit_block"]["id"], e["amount"]) for e in decs] == [
        (soon, 10),
        (late, 10),
        (never, 5),
    ]


def test_R_DED_2_null_cost_basis_counts_as_zero(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    paid = api.inc(cid, 10, expiry_date=FAR, per_unit_cost_basis="0.05")["credit_block"]["id"]
    zero = api.inc(cid, 10, expiry_date=FAR, per_unit_cost_basis="0")["credit_block"]["id"]
    free = api.inc(cid, 10, expiry_date=FAR)["credit_block"]["id"]
    api.dec(cid, 15)
    decs = [e for e in api.chain(cid) if e["entry_type"] == "decrement"]
    # null counts as 0: ties with "0", then effective date / creation order (zero first)
    assert [(e["credit_block"]["id"], e["amount"]) for e in decs] == [(zero, 10), (free, 5)]
    assert api.block(paid)["balance"] == 10


def test_R_DED_2_tie_effective_date_ascending(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    later = api.inc(cid, 10, expiry_date=FAR, effective_date="2024-02-01T00:00:00Z")[
        "credit_block"
    ]["id"]
    earlier = api.inc(cid, 10, expiry_date=FAR, effective_date="2024-01-01T00:00:00Z")[
        "credit_block"
    ]["id"]
    resp = api.dec(cid, 4)
    assert resp["credit_block"]["id"] == earlier
    assert api.block(later)["balance"] == 10


def test_R_DED_2_tie_creation_order(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    eff = "2024-01-01T00:00:00Z"
    first = api.inc(cid, 10, expiry_date=FAR, effective_date=eff)["credit_block"]["id"]
    second = api.inc(cid, 10, expiry_date=FAR, effective_date=eff)["credit_block"]["id"]
    resp = api.dec(cid, 12)
    assert resp["credit_block"]["id"] == second and resp["amount"] == 2
    assert api.block(first)["balance"] == 0


def test_E8_block_list_in_drawdown_order(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    never = api.inc(cid, 1)["credit_block"]["id"]
    june_paid = api.inc(cid, 1, expiry_date="2099-06-01", per_unit_cost_basis="0.5")[
        "credit_block"
    ]["id"]
    june_free = api.inc(cid, 1, expiry_date="2099-06-01")["credit_block"]["id"]
    jan = api.inc(cid, 1, expiry_date="2099-01-01", per_unit_cost_basis="9")["credit_block"]["id"]
    assert [b["id"] for b in api.blocks(cid)] == [jan, june_free, june_paid, never]


def test_R_DED_4_rest_charged_to_last_drawable_block(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    a = api.inc(cid, 10, expiry_date=FAR)["credit_block"]["id"]
    c = api.inc(cid, 5)["credit_block"]["id"]
    resp = api.dec(cid, 20)
    decs = [e for e in api.chain(cid) if e["entry_type"] == "decrement"]
    assert [(e["credit_block"]["id"], e["amount"]) for e in decs] == [(a, 10), (c, 10)]
    assert resp["credit_block"]["id"] == c and resp["ending_balance"] == -5
    assert api.block(c)["balance"] == -5


def test_R_DED_4_last_block_with_zero_balance_gets_rest(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    c = api.inc(cid, 5)["credit_block"]["id"]
    api.dec(cid, 5)
    a = api.inc(cid, 10, expiry_date=FAR)["credit_block"]["id"]
    api.dec(cid, 15)
    decs = [e for e in api.chain(cid) if e["entry_type"] == "decrement"][1:]
    assert [(e["credit_block"]["id"], e["amount"]) for e in decs] == [(a, 10), (c, 5)]
    assert api.block(c)["balance"] == -5


def test_R_DED_4_deficit_block_properties(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    resp = api.dec(cid, 7)
    assert (
        resp["ledger_sequence_number"],
        resp["amount"],
        resp["starting_balance"],
        resp["ending_balance"],
    ) == (1, 7, 0, -7)
    chain = api.chain(cid)
    assert [e["entry_type"] for e in chain] == ["decrement"]  # no increment entry
    blocks = api.blocks(cid)
    assert len(blocks) == 1
    b = blocks[0]
    assert b["id"] == resp["credit_block"]["id"]
    assert b["balance"] == -7
    assert b["maximum_initial_balance"] == 0
    assert b["credit_block_source"] == "manual"
    assert b["expiry_date"] is None
    assert b["per_unit_cost_basis"] is None
    assert b["filters"] == [] and b["metadata"] == {}
    assert b["status"] == "active"
    assert abs((parse_ts(b["effective_date"]) - utcnow()).total_seconds()) < 60
    assert resp["credit_block"] == {
        "id": b["id"],
        "expiry_date": None,
        "per_unit_cost_basis": None,
        "filters": [],
    }


def test_R_DED_4_second_decrement_reuses_deficit_block(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b1 = api.dec(cid, 7)["credit_block"]["id"]
    b2 = api.dec(cid, 3)["credit_block"]["id"]
    assert b1 == b2
    assert api.block(b1)["balance"] == -10


def test_R_DED_1_future_block_not_drawn_deficit_created(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    fut = api.inc(cid, 100, effective_date="2099-01-01T00:00:00Z")["credit_block"]["id"]
    resp = api.dec(cid, 10)
    assert resp["credit_block"]["id"] != fut
    assert (resp["starting_balance"], resp["ending_balance"]) == (100, 90)
    assert api.block(fut)["balance"] == 100
    assert api.block(resp["credit_block"]["id"])["maximum_initial_balance"] == 0


def test_R_DED_1_pending_payment_block_not_drawn(api: Api) -> None:
    c = api.customer(currency="USD")
    e = api.inc(
        c["id"],
        10,
        per_unit_cost_basis="1.00",
        invoice_settings={
            "auto_collection": False,
            "net_terms": 0,
            "require_successful_payment": True,
        },
    )
    blk = api.block(e["credit_block"]["id"])
    assert blk["status"] == "pending_payment"
    resp = api.dec(c["id"], 4)
    assert resp["credit_block"]["id"] != blk["id"]
    assert api.block(blk["id"])["balance"] == 10


def test_R_DED_1_filters_ignored_for_api_decrements(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    flt = [{"field": "item_id", "operator": "includes", "values": ["x"]}]
    b = api.inc(cid, 10, filters=flt)["credit_block"]["id"]
    assert api.dec(cid, 4)["credit_block"]["id"] == b


def test_R_DED_3_single_entry_when_only_block_overdrawn(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    c = api.inc(cid, 5)["credit_block"]["id"]
    resp = api.dec(cid, 20)
    assert [e["entry_type"] for e in api.chain(cid)] == ["increment", "decrement"]
    assert resp["credit_block"]["id"] == c and resp["amount"] == 20


# ============================================================== §4.8 negative balances


def test_R_NEG_2_increment_does_not_repay_negative_block(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    c = api.inc(cid, 10, per_unit_cost_basis="0.10")["credit_block"]["id"]
    api.dec(cid, 30)
    n = api.inc(cid, 50, per_unit_cost_basis="0.50")
    assert (n["starting_balance"], n["ending_balance"]) == (-20, 30)
    assert api.block(c)["balance"] == -20
    assert api.block(n["credit_block"]["id"])["balance"] == 50


def test_R_NEG_2_positive_blocks_consumed_before_negative(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    c = api.inc(cid, 10, per_unit_cost_basis="0.10")["credit_block"]["id"]
    api.dec(cid, 30)  # c = -20
    n = api.inc(cid, 50, per_unit_cost_basis="0.50")["credit_block"]["id"]  # after c in order
    r1 = api.dec(cid, 30)
    assert r1["credit_block"]["id"] == n and r1["amount"] == 30
    r2 = api.dec(cid, 40)  # n has 20; rest 20 also to n (last drawable), one entry
    assert r2["credit_block"]["id"] == n and r2["amount"] == 40
    assert api.block(n)["balance"] == -20
    assert api.block(c)["balance"] == -20
    assert api.chain(cid)[-1]["ending_balance"] == -40


def test_R_LIST_1_default_listing_rules(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    neg = api.inc(cid, 5)["credit_block"]["id"]
    api.dec(cid, 8)  # neg = -3
    empty = api.inc(cid, 4, expiry_date=FAR)["credit_block"]["id"]
    api.dec(cid, 4)  # empty = 0
    pos = api.inc(cid, 9, effective_date="2099-01-01T00:00:00Z")["credit_block"][
        "id"
    ]  # pending, listed
    default_ids = {b["id"] for b in api.blocks(cid)}
    assert default_ids == {neg, pos}
    assert {b["id"] for b in api.all_blocks(cid)} == {neg, empty, pos}
    # R-BAL-5
    assert sum(b["balance"] for b in api.blocks(cid)) == api.chain(cid)[-1]["ending_balance"] == 6


def test_E8_effective_date_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    old = api.inc(cid, 1, effective_date="2024-01-01T00:00:00Z")["credit_block"]["id"]
    new = api.inc(cid, 1)["credit_block"]["id"]
    got = api.blocks(cid, **{"effective_date[lt]": "2025-01-01T00:00:00Z"})
    assert [b["id"] for b in got] == [old]
    got = api.blocks(cid, **{"effective_date[gte]": "2025-01-01T00:00:00Z"})
    assert [b["id"] for b in got] == [new]


# ============================================================== §4.3 pending


def test_R_PEND_1_future_increment_is_pending_and_counts_in_L(
    api: Api, cust: dict[str, Any]
) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    e = api.inc(cid, 40, effective_date="2099-01-01")
    assert e["entry_status"] == "pending"
    assert (e["starting_balance"], e["ending_balance"]) == (10, 50)
    assert [x["id"] for x in api.ledger(cid, entry_status="pending")] == [e["id"]]
    assert len(api.ledger(cid, entry_status="committed")) == 1
    assert api.block(e["credit_block"]["id"])["effective_date"] == "2099-01-01T00:00:00Z"


def test_R_PEND_1_status_flips_to_committed(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    eff = utcnow().replace(microsecond=0) + dt.timedelta(seconds=3)
    e = api.inc(cid, 10, effective_date=iso(eff))
    assert e["entry_status"] == "pending"
    time.sleep(max(0.0, (eff - utcnow()).total_seconds()) + 1.2)
    listed = api.ledger(cid)
    assert [(x["id"], x["entry_status"]) for x in listed] == [(e["id"], "committed")]
    assert api.dec(cid, 4)["credit_block"]["id"] == e["credit_block"]["id"]


def test_R_PEND_5_backdated_increment_committed_created_now(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.dec(cid, 5)  # deficit block first
    e = api.inc(cid, 20, effective_date="2020-01-01T00:00:00Z")
    assert e["entry_status"] == "committed"
    assert abs((parse_ts(e["created_at"]) - utcnow()).total_seconds()) < 60
    # backdating does not re-allocate the earlier decrement
    decs = [x for x in api.chain(cid) if x["entry_type"] == "decrement"]
    assert len(decs) == 1 and decs[0]["credit_block"]["id"] != e["credit_block"]["id"]
    assert api.block(e["credit_block"]["id"])["balance"] == 20


# ============================================================== §4.9 expiry


def test_R_INC_4_past_expiry_increment_followed_by_expiry(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    e = api.inc(cid, 25, effective_date="2020-01-01", expiry_date="2020-06-01")
    assert e["entry_type"] == "increment" and e["ending_balance"] == 25
    chain = api.chain(cid)
    assert [(x["entry_type"], x["ledger_sequence_number"]) for x in chain] == [
        ("increment", 1),
        ("credit_block_expiry", 2),
    ]
    x = chain[1]
    assert x["credit_block"]["id"] == e["credit_block"]["id"]
    assert (x["amount"], x["starting_balance"], x["ending_balance"]) == (25, 25, 0)
    assert x["entry_status"] == "committed"
    # R-EXPY-2: expiry would precede the previous entry -> previous entry's created_at
    assert parse_ts(x["created_at"]) == parse_ts(e["created_at"])
    assert api.block(e["credit_block"]["id"])["balance"] == 0
    assert api.blocks(cid) == []


def test_R_EXPY_2_created_at_equals_expiry_date(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    exp = utcnow().replace(microsecond=0) + dt.timedelta(seconds=3)
    cheap = api.inc(cid, 10, expiry_date=iso(exp), per_unit_cost_basis="0.50")["credit_block"]["id"]
    free = api.inc(cid, 7, expiry_date=iso(exp))["credit_block"]["id"]
    time.sleep(max(0.0, (exp - utcnow()).total_seconds()) + 1.5)
    chain = api.chain(cid)
    exps = [x for x in chain if x["entry_type"] == "credit_block_expiry"]
    # processed in drawdown order (cost basis null=0 first)
    assert [(x["credit_block"]["id"], x["amount"], x["ledger_sequence_number"]) for x in exps] == [
        (free, 7, 3),
        (cheap, 10, 4),
    ]
    for x in exps:
        assert parse_ts(x["created_at"]) == exp
    assert (exps[-1]["ending_balance"]) == 0
    assert api.blocks(cid) == []
    assert {b["balance"] for b in api.all_blocks(cid)} == {0}


def test_R_EXPY_3_negative_block_gets_no_expiry_entry(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    exp = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    b = api.inc(cid, 10, expiry_date=iso(exp))["credit_block"]["id"]
    api.dec(cid, 15)
    time.sleep(max(0.0, (exp - utcnow()).total_seconds()) + 1.2)
    assert [x["entry_type"] for x in api.chain(cid)] == ["increment", "decrement"]
    assert [(x["id"], x["balance"]) for x in api.blocks(cid)] == [(b, -5)]  # negative always listed


# ============================================================== §4.10 expiration change


def test_R_EXP_1_5_expiration_change_by_block_id(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    src = api.inc(
        cid, 100, effective_date="2024-01-01", per_unit_cost_basis="0.20", metadata={"k": "v"}
    )
    sid = src["credit_block"]["id"]
    e = api.entry(
        cid,
        entry_type="expiration_change",
        block_id=sid,
        amount=40,
        target_expiry_date="2099-09-01",
    )
    assert e["entry_type"] == "expiration_change"
    assert e["credit_block"]["id"] == sid
    assert e["amount"] == 40
    assert e["starting_balance"] == e["ending_balance"] == 100
    assert e["new_block_expiry_date"] == "2099-09-01T00:00:00Z"
    assert e["ledger_sequence_number"] == 2 and e["entry_status"] == "committed"
    assert api.block(sid)["balance"] == 60
    assert api.block(sid)["maximum_initial_balance"] == 100
    new = [b for b in api.blocks(cid) if b["id"] != sid]
    assert len(new) == 1
    nb = new[0]
    assert nb["balance"] == 40 and nb["maximum_initial_balance"] == 40
    assert nb["expiry_date"] == "2099-09-01T00:00:00Z"
    assert nb["effective_date"] == "2024-01-01T00:00:00Z"
    assert nb["per_unit_cost_basis"] == "0.20"
    assert (
        nb["credit_block_source"] == "manual" and nb["metadata"] == {} and nb["status"] == "active"
    )
    assert len(api.chain(cid)) == 2  # no increment entry for the new block


def test_R_EXP_3_default_amount_is_whole_balance(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    sid = api.inc(cid, 50)["credit_block"]["id"]
    api.dec(cid, 8)
    e = api.entry(
        cid, entry_type="expiration_change", block_id=sid, target_expiry_date="2099-02-02"
    )
    assert e["amount"] == 42
    assert api.block(sid)["balance"] == 0


def test_R_EXP_2_source_by_expiry_date(api: Api) -> None:
    c = api.customer(timezone="America/New_York")
    cid = c["id"]
    api.inc(cid, 10, expiry_date="2099-05-01")
    target = api.inc(cid, 20, expiry_date="2099-06-01")["credit_block"]["id"]
    e = api.entry(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-01",
        amount=5,
        target_expiry_date="2099-07-01",
    )
    assert e["credit_block"]["id"] == target
    assert e["new_block_expiry_date"] == "2099-07-01T04:00:00Z"
    assert api.block(target)["balance"] == 15


def test_R_EXP_2_ambiguous_expiry_date_is_constraint(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10, expiry_date="2099-06-01")
    api.inc(cid, 20, expiry_date="2099-06-01")
    r = api.entry_raw(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-01",
        target_expiry_date="2099-07-01",
    )
    assert_error(r, 400, CONSTRAINT)


def test_R_EXP_2_no_matching_block_is_constraint(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10, expiry_date="2099-06-01")
    r = api.entry_raw(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-02",
        target_expiry_date="2099-07-01",
    )
    assert_error(r, 400, CONSTRAINT)


def test_R_EXP_2_zero_balance_block_not_matched_by_expiry(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10, expiry_date="2099-06-01")
    api.dec(cid, 10)
    live = api.inc(cid, 20, expiry_date="2099-06-01")["credit_block"]["id"]
    e = api.entry(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-01",
        target_expiry_date="2099-07-01",
    )
    assert e["credit_block"]["id"] == live and e["amount"] == 20


def test_R_EXP_2_neither_block_id_nor_expiry_is_validation(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 10)
    r = api.entry_raw(cust["id"], entry_type="expiration_change", target_expiry_date="2099-07-01")
    assert_error(r, 400, VALIDATION)


def test_R_EXP_3_amount_above_balance_is_constraint(api: Api, cust: dict[str, Any]) -> None:
    sid = api.inc(cust["id"], 10)["credit_block"]["id"]
    r = api.entry_raw(
        cust["id"],
        entry_type="expiration_change",
        block_id=sid,
        amount=11,
        target_expiry_date="2099-07-01",
    )
    assert_error(r, 400, CONSTRAINT)


def test_R_EXP_3_expired_source_is_constraint(api: Api, cust: dict[str, Any]) -> None:
    sid = api.inc(cust["id"], 10, effective_date="2020-01-01", expiry_date="2020-02-01")[
        "credit_block"
    ]["id"]
    r = api.entry_raw(
        cust["id"],
        entry_type="expiration_change",
        block_id=sid,
        amount=1,
        target_expiry_date="2099-07-01",
    )
    assert_error(r, 400, CONSTRAINT)


def test_R_EXP_4_target_not_after_effective_is_constraint(api: Api, cust: dict[str, Any]) -> None:
    sid = api.inc(cust["id"], 10, effective_date="2099-03-01")["credit_block"]["id"]
    r = api.entry_raw(
        cust["id"], entry_type="expiration_change", block_id=sid, target_expiry_date="2099-03-01"
    )
    assert_error(r, 400, CONSTRAINT)


def test_R_EXP_6_target_today_expires_immediately(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    sid = api.inc(cid, 100, effective_date="2020-01-01")["credit_block"]["id"]
    today = utcnow().date().isoformat()
    e = api.entry(
        cid, entry_type="expiration_change", block_id=sid, amount=30, target_expiry_date=today
    )
    assert e["entry_type"] == "expiration_change"
    assert e["ledger_sequence_number"] == 2
    assert e["new_block_expiry_date"] == f"{today}T00:00:00Z"
    chain = api.chain(cid)
    assert [x["entry_type"] for x in chain] == [
        "increment",
        "expiration_change",
        "credit_block_expiry",
    ]
    x = chain[2]
    assert x["ledger_sequence_number"] == 3
    assert x["credit_block"]["id"] not in (sid,)
    assert (x["amount"], x["starting_balance"], x["ending_balance"]) == (30, 100, 70)
    assert x["credit_block"]["expiry_date"] == f"{today}T00:00:00Z"
    assert api.block(x["credit_block"]["id"])["balance"] == 0
    assert api.block(sid)["balance"] == 70
    assert [b["id"] for b in api.blocks(cid)] == [sid]


def test_R_CUR_1_expiration_change_defaults_to_block_ledger(api: Api, cust: dict[str, Any]) -> None:
    sid = api.inc(cust["id"], 10, currency="tokens")["credit_block"]["id"]
    e = api.entry(
        cust["id"], entry_type="expiration_change", block_id=sid, target_expiry_date="2099-07-01"
    )
    assert e["currency"] == "tokens" and e["ledger_sequence_number"] == 2


# ============================================================== §4.11 void


def test_R_VOID_2_void_within_remaining(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 100)["credit_block"]["id"]
    e = api.entry(
        cid, entry_type="void", block_id=b, amount=40, void_reason="refund", description="d"
    )
    assert e["entry_type"] == "void"
    assert e["amount"] == 40 and e["void_amount"] == 40
    assert e["void_reason"] == "refund"
    assert (e["starting_balance"], e["ending_balance"]) == (100, 60)
    assert e["ledger_sequence_number"] == 2
    assert [x["entry_type"] for x in api.chain(cid)] == ["increment", "void"]
    assert api.block(b)["balance"] == 60


def test_R_VOID_2_void_reason_null_by_default(api: Api, cust: dict[str, Any]) -> None:
    b = api.inc(cust["id"], 10)["credit_block"]["id"]
    e = api.entry(cust["id"], entry_type="void", block_id=b, amount=1)
    assert "void_reason" in e and e["void_reason"] is None


def test_R_VOID_3_void_beyond_remaining_writes_void_initiated(
    api: Api, cust: dict[str, Any]
) -> None:
    cid = cust["id"]
    b = api.inc(cid, 100)["credit_block"]["id"]
    api.dec(cid, 70)
    before = utcnow().replace(microsecond=0)
    e = api.entry(cid, entry_type="void", block_id=b, amount=50, void_reason="refund")
    assert e["entry_type"] == "void" and e["ledger_sequence_number"] == 4
    assert (e["amount"], e["void_amount"], e["starting_balance"], e["ending_balance"]) == (
        50,
        50,
        30,
        -20,
    )
    chain = api.chain(cid)
    vi = chain[2]
    assert vi["entry_type"] == "void_initiated" and vi["ledger_sequence_number"] == 3
    assert vi["credit_block"]["id"] == b
    assert vi["amount"] == 30 and vi["void_amount"] == 50
    assert vi["starting_balance"] == vi["ending_balance"] == 30
    assert vi["void_reason"] == "refund"
    nbe = parse_ts(vi["new_block_expiry_date"])
    assert before - dt.timedelta(seconds=2) <= nbe <= utcnow() + dt.timedelta(seconds=2)
    assert "." not in vi["new_block_expiry_date"]
    assert vi["created_at"] == e["created_at"]
    blk = api.block(b)
    assert (
        blk["balance"] == -20 and blk["expiry_date"] is None
    )  # void_initiated does not change the block


def test_R_VOID_3_negative_remaining_gives_zero_amount(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10)["credit_block"]["id"]
    api.dec(cid, 15)  # b = -5
    e = api.entry(cid, entry_type="void", block_id=b, amount=10)
    chain = api.chain(cid)
    vi = chain[-2]
    assert vi["entry_type"] == "void_initiated"
    assert vi["amount"] == 0 and vi["void_amount"] == 10
    assert vi["starting_balance"] == vi["ending_balance"] == -5
    assert (e["starting_balance"], e["ending_balance"]) == (-5, -15)
    assert api.block(b)["balance"] == -15


def test_R_VOID_1_limit_is_ceiling_minus_voided(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 100)["credit_block"]["id"]
    api.entry(cid, entry_type="void", block_id=b, amount=60)
    assert_error(api.entry_raw(cid, entry_type="void", block_id=b, amount=41), 400, CONSTRAINT)
    api.entry(cid, entry_type="void", block_id=b, amount=40)


def test_R_VOID_1_zero_amount_rejected(api: Api, cust: dict[str, Any]) -> None:
    b = api.inc(cust["id"], 10)["credit_block"]["id"]
    r = api.entry_raw(cust["id"], entry_type="void", block_id=b, amount=0)
    assert r.status_code == 400


def test_R_VOID_1_credits_that_expired_unused_cannot_be_voided(
    api: Api, cust: dict[str, Any]
) -> None:
    """Revised R-VOID-1: A <= C - V - X; voiding expired credits would charge them twice."""
    cid = cust["id"]
    b = api.inc(cid, 10, effective_date="2020-01-01", expiry_date="2020-06-01")["credit_block"][
        "id"
    ]
    before = api.chain(cid)
    r = api.entry_raw(cid, entry_type="void", block_id=b, amount=4)
    assert r.status_code == 400
    assert r.json()["type"].endswith("#400-constraint-violation")
    assert api.chain(cid) == before
    assert [x["entry_type"] for x in before] == ["increment", "credit_block_expiry"]


def test_R_VOID_4_fully_voided_block_hidden_keeps_status(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10)["credit_block"]["id"]
    api.entry(cid, entry_type="void", block_id=b, amount=10)
    assert api.blocks(cid) == []
    blk = api.block(b)
    assert blk["balance"] == 0 and blk["status"] == "active"
    assert [x["id"] for x in api.all_blocks(cid)] == [b]


def test_R_CUR_4_block_of_other_ledger_with_explicit_currency(
    api: Api, cust: dict[str, Any]
) -> None:
    b = api.inc(cust["id"], 10, currency="tokens")["credit_block"]["id"]
    r = api.entry_raw(cust["id"], entry_type="void", block_id=b, amount=1, currency="credits")
    assert_error(r, 400, CONSTRAINT)
    e = api.entry(
        cust["id"], entry_type="void", block_id=b, amount=1
    )  # R-CUR-1 default: block's ledger
    assert e["currency"] == "tokens"


def test_R_CUR_4_block_of_other_customer_is_404(api: Api, cust: dict[str, Any]) -> None:
    other = api.customer()
    b = api.inc(other["id"], 10)["credit_block"]["id"]
    assert_error(api.entry_raw(cust["id"], entry_type="void", block_id=b, amount=1), 404, NOT_FOUND)
    assert_error(
        api.entry_raw(cust["id"], entry_type="amendment", block_id=b, amount=1), 404, NOT_FOUND
    )


def test_R_CUR_2_real_currency_requires_customer_currency(api: Api, cust: dict[str, Any]) -> None:
    r = api.entry_raw(cust["id"], entry_type="increment", amount=1, currency="USD")
    assert_error(r, 400, CONSTRAINT)


def test_R_CUR_2_real_currency_matching_case_insensitive(api: Api) -> None:
    c = api.customer(currency="USD")
    e = api.inc(c["id"], 3, currency="usd")
    assert e["currency"] == "USD"
    r = api.entry_raw(c["id"], entry_type="increment", amount=1, currency="EUR")
    assert_error(r, 400, CONSTRAINT)
    assert api.blocks(c["id"], currency="EUR") == []  # listing mismatch: empty, not error


# ============================================================== §4.12 amendment


def test_R_AMD_1_amendment_returns_credits(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 100)["credit_block"]["id"]
    api.dec(cid, 30)
    e = api.entry(cid, entry_type="amendment", block_id=b, amount=30, description="undo")
    assert e["entry_type"] == "amendment" and e["amount"] == 30
    assert (e["starting_balance"], e["ending_balance"]) == (70, 100)
    assert e["credit_block"]["id"] == b and e["description"] == "undo"
    assert api.block(b)["balance"] == 100


def test_R_AMD_2_cannot_exceed_initial_balance(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 100)["credit_block"]["id"]
    api.dec(cid, 30)
    assert_error(api.entry_raw(cid, entry_type="amendment", block_id=b, amount=31), 400, CONSTRAINT)


def test_R_AMD_2_ceiling_after_expiration_change(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 100)["credit_block"]["id"]
    api.entry(
        cid, entry_type="expiration_change", block_id=b, amount=40, target_expiry_date="2099-01-01"
    )
    assert api.block(b)["balance"] == 60
    # C = 100 - 40 = 60: no amendment possible while balance is 60
    assert_error(api.entry_raw(cid, entry_type="amendment", block_id=b, amount=1), 400, CONSTRAINT)
    # voids bounded by C - V = 60
    assert_error(api.entry_raw(cid, entry_type="void", block_id=b, amount=61), 400, CONSTRAINT)
    api.entry(cid, entry_type="void", block_id=b, amount=10)
    api.entry(
        cid, entry_type="amendment", block_id=b, amount=10
    )  # voided blocks may be amended up to C
    assert api.block(b)["balance"] == 60
    assert_error(api.entry_raw(cid, entry_type="amendment", block_id=b, amount=1), 400, CONSTRAINT)


def test_R_AMD_2_deficit_block_amended_only_to_zero(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    d = api.dec(cid, 10)["credit_block"]["id"]
    assert_error(api.entry_raw(cid, entry_type="amendment", block_id=d, amount=11), 400, CONSTRAINT)
    e = api.entry(cid, entry_type="amendment", block_id=d, amount=10)
    assert e["ending_balance"] == 0


def test_R_AMD_2_expired_block_is_constraint(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10, effective_date="2020-01-01", expiry_date="2020-06-01")["credit_block"][
        "id"
    ]
    assert_error(api.entry_raw(cid, entry_type="amendment", block_id=b, amount=1), 400, CONSTRAINT)


def test_R_AMD_2_zero_amount_rejected(api: Api, cust: dict[str, Any]) -> None:
    b = api.inc(cust["id"], 10)["credit_block"]["id"]
    api.dec(cust["id"], 5)
    assert (
        api.entry_raw(cust["id"], entry_type="amendment", block_id=b, amount=0).status_code == 400
    )


# ============================================================== §2.5 blocks by id / §4.17 metadata


def test_E21_block_metadata_merge_and_R_META_2(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    e = api.inc(cid, 10, metadata={"a": "1", "b": "2"})
    b = e["credit_block"]["id"]
    r = api.call("PUT", f"/credit_blocks/{b}", 200, json={"metadata": {"b": None, "c": "3"}})
    assert r.json()["metadata"] == {"a": "1", "c": "3"}
    assert api.chain(cid)[0]["metadata"] == {"a": "1", "c": "3"}
    r = api.call("PUT", f"/credit_blocks/{b}", 200, json={})
    assert r.json()["metadata"] == {"a": "1", "c": "3"}
    r = api.call("PUT", f"/credit_blocks/{b}", 200, json={"metadata": None})
    assert r.json()["metadata"] == {}


def test_R_META_2_other_entries_keep_request_metadata(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10)["credit_block"]["id"]
    d = api.dec(cid, 1, metadata={"x": "y"})
    api.call("PUT", f"/credit_blocks/{b}", 200, json={"metadata": {"z": "1"}})
    got = next(e for e in api.chain(cid) if e["id"] == d["id"])
    assert got["metadata"] == {"x": "y"}


def test_E20_unknown_block_is_404(api: Api) -> None:
    assert_error(api.call("GET", "/credit_blocks/nosuchblock12345"), 404, NOT_FOUND)


def test_E20_block_same_shape_as_list_item(api: Api, cust: dict[str, Any]) -> None:
    b = api.inc(cust["id"], 10)["credit_block"]["id"]
    assert api.block(b) == api.blocks(cust["id"])[0]
    keys = {
        "id",
        "balance",
        "maximum_initial_balance",
        "effective_date",
        "expiry_date",
        "per_unit_cost_basis",
        "filters",
        "metadata",
        "status",
        "credit_block_source",
        "credit_allocation",
        "credit_commitment",
    }
    assert keys <= set(api.block(b))


def test_3_4_entry_common_keys_present_on_all_types(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10)["credit_block"]["id"]
    api.dec(cid, 12)
    api.entry(cid, entry_type="void", block_id=b, amount=1)
    api.entry(cid, entry_type="amendment", block_id=b, amount=1)
    b2 = api.inc(cid, 5)["credit_block"]["id"]
    api.entry(cid, entry_type="expiration_change", block_id=b2, target_expiry_date="2099-01-01")
    common = {
        "id",
        "entry_type",
        "entry_status",
        "ledger_sequence_number",
        "amount",
        "starting_balance",
        "ending_balance",
        "currency",
        "created_at",
        "credit_block",
        "customer",
        "description",
        "metadata",
    }
    extra = {
        "increment": {"created_invoices"},
        "decrement": {"event_id", "invoice_id", "price_id"},
        "void": {"void_amount", "void_reason"},
        "void_initiated": {"void_amount", "void_reason", "new_block_expiry_date"},
        "expiration_change": {"new_block_expiry_date"},
        "amendment": set(),
    }
    chain = api.chain(cid)
    assert {e["entry_type"] for e in chain} == set(extra)
    for e in chain:
        assert common | extra[e["entry_type"]] <= set(e), e
        assert set(e["credit_block"]) == {"id", "expiry_date", "per_unit_cost_basis", "filters"}


def test_strict_sdk_parses_every_entry_type(server: Server, api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10, effective_date="2020-01-01", expiry_date="2020-06-01")
    b = api.inc(cid, 10)["credit_block"]["id"]
    api.dec(cid, 8)
    api.entry(cid, entry_type="void", block_id=b, amount=10)  # beyond what is left: R-VOID-3
    api.dec(cid, 2)
    with server.client(_strict_response_validation=True) as client:
        page = client.customers.credits.ledger.list(cid)
        assert {e.entry_type for e in page.data} == {
            "increment",
            "credit_block_expiry",
            "void_initiated",
            "void",
            "decrement",
        }
    with pytest.raises(orb.BadRequestError):  # -10 + 21 would pass the ceiling of 10
        server.client().customers.credits.ledger.create_entry(
            cid, entry_type="amendment", block_id=b, amount=21
        )


# ============================================================== additional edge probes


def test_E1_field_length_and_count_limits(api: Api) -> None:
    base = {"name": "x", "email": "a@b.example"}
    assert api.call("POST", "/customers", json={**base, "name": "n" * 256}).status_code == 400
    assert (
        api.call("POST", "/customers", json={**base, "external_customer_id": "e" * 256}).status_code
        == 400
    )
    assert (
        api.call("POST", "/customers", json={**base, "external_customer_id": ""}).status_code == 400
    )
    emails = [f"u{i}@example.com" for i in range(50)]  # + primary = 51
    assert (
        api.call("POST", "/customers", json={**base, "additional_emails": emails}).status_code
        == 400
    )
    api.call("POST", "/customers", 201, json={**base, "additional_emails": emails[:49]})
    assert (
        api.call("POST", "/customers", json={**base, "additional_emails": ["bad"]}).status_code
        == 400
    )
    assert api.call("POST", "/customers", json={**base, "email": "a@@b.example"}).status_code == 400
    assert (
        api.call("POST", "/customers", json={**base, "payment_provider": "paypal"}).status_code
        == 400
    )


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


def test_E1_ignored_objects_show_neutral_defaults(api: Api) -> None:
    c = api.customer(
        hierarchy={"parent_customer_id": "abc"},
        payment_configuration={"x": 1},
        reporting_configuration={"exempt": True},
        accounting_sync_configuration={"excluded": True},
        tax_configuration={"x": 1},
        some_unknown_key="ignored",
    )
    assert c["hierarchy"] == {"children": [], "parent": None}
    assert c["payment_configuration"] is None
    assert c["reporting_configuration"] is None
    assert c["accounting_sync_configuration"] is None


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


def test_E2_created_at_lt_filter(api: Api) -> None:
    c = api.customer()
    before = iso(parse_ts(c["created_at"]) - dt.timedelta(seconds=1))
    r = api.call("GET", "/customers", 200, params={"created_at[lt]": before, "limit": 100})
    assert c["id"] not in [x["id"] for x in r.json()["data"]]


def test_1_7_query_datetime_with_space_for_plus(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 1)
    r = api.call(
        "GET",
        f"/customers/{cust['id']}/credits/ledger",
        params={"created_at[gte]": "2020-01-01T00:00:00 00:00"},
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 1


def test_1_7_offset_query_datetime_encoded(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 1)
    r = api.call(
        "GET",
        f"/customers/{cust['id']}/credits/ledger",
        params={"created_at[lt]": "2020-01-01T00:00:00+00:00"},
    )
    assert r.status_code == 200 and r.json()["data"] == []


def test_1_7_default_limit_is_20(api: Api, cust: dict[str, Any]) -> None:
    for _ in range(21):
        api.inc(cust["id"], 1)
    body = api.call("GET", f"/customers/{cust['id']}/credits/ledger", 200).json()
    assert len(body["data"]) == 20
    assert body["pagination_metadata"]["has_more"] is True


def test_1_7_block_list_pagination(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    ids = [api.inc(cid, 1, expiry_date=f"2099-0{i + 1}-01")["credit_block"]["id"] for i in range(3)]
    got: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = api.call("GET", f"/customers/{cid}/credits", 200, params=params).json()
        got += [b["id"] for b in body["data"]]
        if not body["pagination_metadata"]["next_cursor"]:
            assert body["pagination_metadata"]["has_more"] is False
            break
        params["cursor"] = body["pagination_metadata"]["next_cursor"]
    assert got == ids
    assert api.call("GET", f"/customers/{cid}/credits", params={"limit": 0}).status_code == 400


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


def test_3_5_description_limit(api: Api, cust: dict[str, Any]) -> None:
    assert (
        api.entry_raw(
            cust["id"], entry_type="increment", amount=1, description="d" * 1001
        ).status_code
        == 400
    )
    api.inc(cust["id"], 1, description="d" * 1000)


def test_3_5_entry_metadata_null_values_dropped(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 5)
    d = api.dec(cust["id"], 1, metadata={"a": "1", "b": None})
    assert d["metadata"] == {"a": "1"}
    assert api.dec(cust["id"], 1, metadata=None)["metadata"] == {}


def test_R_DED_decrement_amount_must_be_positive(api: Api, cust: dict[str, Any]) -> None:
    assert_error(api.entry_raw(cust["id"], entry_type="decrement", amount=0), 400, VALIDATION)


def test_R_DED_1_expired_block_not_drawn(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    old = api.inc(cid, 10, effective_date="2020-01-01", expiry_date="2020-06-01")["credit_block"][
        "id"
    ]
    d = api.dec(cid, 3)
    assert d["credit_block"]["id"] != old
    assert (d["starting_balance"], d["ending_balance"]) == (0, -3)


def test_E10_invalid_filters_are_400(api: Api, cust: dict[str, Any]) -> None:
    path = f"/customers/{cust['id']}/credits/ledger"
    assert_error(api.call("GET", path, params={"entry_status": "done"}), 400, VALIDATION)
    assert_error(api.call("GET", path, params={"minimum_amount": "abc"}), 400, VALIDATION)
    assert_error(api.call("GET", path, params={"created_at[gte]": "yesterday"}), 400, VALIDATION)
    assert_error(api.call("GET", path, params={"limit": 101}), 400, VALIDATION)


def test_E9_E11_unknown_external_id_404(api: Api) -> None:
    ext = unique("missing")
    assert_error(api.call("GET", f"/customers/external_customer_id/{ext}/credits"), 404, NOT_FOUND)
    assert_error(
        api.call("GET", f"/customers/external_customer_id/{ext}/credits/ledger"), 404, NOT_FOUND
    )
    r = api.call(
        "POST",
        f"/customers/external_customer_id/{ext}/credits/ledger_entry",
        json={"entry_type": "increment", "amount": 1},
    )
    assert_error(r, 404, NOT_FOUND)


def test_R_TZ_1_query_date_only_in_customer_tz(api: Api) -> None:
    c = api.customer(timezone="Asia/Tokyo")
    b = api.inc(c["id"], 1, effective_date="2098-12-31T16:00:00Z")["credit_block"]["id"]
    # 2099-01-01 Tokyo = 2098-12-31T15:00Z <= 16:00Z -> included
    got = api.blocks(c["id"], **{"effective_date[gte]": "2099-01-01"})
    assert [x["id"] for x in got] == [b]


def test_R_EXP_1_child_copies_filters_and_status(api: Api) -> None:
    c = api.customer(currency="USD")
    flt = [{"field": "item_id", "operator": "excludes", "values": ["a", "b"]}]
    e = api.inc(
        c["id"],
        10,
        per_unit_cost_basis="2.00",
        filters=flt,
        invoice_settings={
            "auto_collection": False,
            "net_terms": 0,
            "require_successful_payment": True,
        },
    )
    sid = e["credit_block"]["id"]
    api.entry(
        c["id"],
        entry_type="expiration_change",
        block_id=sid,
        amount=4,
        target_expiry_date="2099-01-01",
    )
    child = next(b for b in api.blocks(c["id"]) if b["id"] != sid)
    assert child["status"] == "pending_payment"
    assert child["filters"] == flt
    assert child["per_unit_cost_basis"] == "2.00"


def test_R_EXP_2_block_id_wins_over_expiry_date(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    a = api.inc(cid, 10, expiry_date="2099-06-01")["credit_block"]["id"]
    b = api.inc(cid, 10, expiry_date="2099-05-01")["credit_block"]["id"]
    e = api.entry(
        cid,
        entry_type="expiration_change",
        block_id=b,
        expiry_date="2099-06-01",
        target_expiry_date="2099-07-01",
        amount=1,
    )
    assert e["credit_block"]["id"] == b
    assert api.block(a)["balance"] == 10


def test_R_EXP_2_source_by_datetime_expiry(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10, expiry_date="2099-06-01T12:00:00Z")["credit_block"]["id"]
    e = api.entry(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-01T14:00:00+02:00",
        target_expiry_date="2099-07-01",
    )
    assert e["credit_block"]["id"] == b and e["amount"] == 10


def test_R_EXP_3_zero_amount_rejected(api: Api, cust: dict[str, Any]) -> None:
    sid = api.inc(cust["id"], 10)["credit_block"]["id"]
    r = api.entry_raw(
        cust["id"],
        entry_type="expiration_change",
        block_id=sid,
        amount=0,
        target_expiry_date="2099-07-01",
    )
    assert r.status_code == 400


def test_R_EXP_3_depleted_source_default_amount_rejected(api: Api, cust: dict[str, Any]) -> None:
    sid = api.inc(cust["id"], 10)["credit_block"]["id"]
    api.dec(cust["id"], 10)
    r = api.entry_raw(
        cust["id"], entry_type="expiration_change", block_id=sid, target_expiry_date="2099-07-01"
    )
    assert_error(r, 400, CONSTRAINT)


def test_R_EXPY_4_pending_payment_block_expires(api: Api) -> None:
    c = api.customer(currency="USD")
    e = api.inc(
        c["id"],
        10,
        per_unit_cost_basis="1.00",
        effective_date="2020-01-01",
        expiry_date="2020-06-01",
        invoice_settings={
            "auto_collection": False,
            "net_terms": 0,
            "require_successful_payment": True,
        },
    )
    chain = api.chain(c["id"])
    assert [x["entry_type"] for x in chain] == ["increment", "credit_block_expiry"]
    assert chain[1]["amount"] == 10
    assert api.block(e["credit_block"]["id"])["status"] == "pending_payment"


def test_R_VOID_1_pending_payment_block_may_be_voided(api: Api) -> None:
    c = api.customer(currency="USD")
    e = api.inc(
        c["id"],
        10,
        per_unit_cost_basis="1.00",
        invoice_settings={
            "auto_collection": False,
            "net_terms": 0,
            "require_successful_payment": True,
        },
    )
    v = api.entry(c["id"], entry_type="void", block_id=e["credit_block"]["id"], amount=10)
    assert v["ending_balance"] == 0
    assert api.block(e["credit_block"]["id"])["status"] == "pending_payment"


def test_R_CUR_4_deleted_block_is_404(api: Api, cust: dict[str, Any]) -> None:
    b = api.inc(cust["id"], 10)["credit_block"]["id"]
    api.call("DELETE", f"/credit_blocks/{b}", 204)
    assert_error(api.call("GET", f"/credit_blocks/{b}"), 404, NOT_FOUND)
    assert_error(api.entry_raw(cust["id"], entry_type="void", block_id=b, amount=1), 404, NOT_FOUND)
    assert_error(api.call("DELETE", f"/credit_blocks/{b}"), 404, NOT_FOUND)


def test_R_INC_5_created_invoices_on_entry_and_listing(api: Api) -> None:
    c = api.customer(currency="USD")
    e = api.inc(
        c["id"],
        10,
        per_unit_cost_basis="1.505",
        invoice_settings={"auto_collection": False, "net_terms": 3},
    )
    invs = e["created_invoices"]
    assert isinstance(invs, list) and len(invs) == 1
    inv = invs[0]
    assert inv["status"] == "issued" and inv["total"] == "15.05" and inv["currency"] == "USD"
    listed = api.chain(c["id"])[0]
    assert [i["id"] for i in listed["created_invoices"]] == [inv["id"]]
    api.call(
        "POST",
        f"/invoices/{inv['id']}/mark_paid",
        200,
        json={"payment_received_date": "2024-03-01"},
    )
    listed = api.chain(c["id"])[0]
    assert listed["created_invoices"][0]["status"] == "paid"


def test_E7_customer_with_issued_or_paid_invoice_cannot_be_deleted(api: Api) -> None:
    c = api.customer(currency="USD")
    api.inc(
        c["id"],
        10,
        per_unit_cost_basis="1.00",
        invoice_settings={"auto_collection": False, "net_terms": 0, "mark_as_paid": True},
    )
    assert_error(api.call("DELETE", f"/customers/{c['id']}"), 400, CONSTRAINT)
    c2 = api.customer(currency="USD")
    api.inc(
        c2["id"],
        10,
        per_unit_cost_basis="1.00",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )
    assert_error(api.call("DELETE", f"/customers/{c2['id']}"), 400, CONSTRAINT)
    api.get_customer(c2["id"])


def test_R_TIME_1_block_fetch_materialises_expiry(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    exp = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    b = api.inc(cid, 10, expiry_date=iso(exp))["credit_block"]["id"]
    time.sleep(max(0.0, (exp - utcnow()).total_seconds()) + 1.2)
    assert api.block(b)["balance"] == 0  # first read after expiry is the block fetch
    chain = api.chain(cid)
    assert [x["entry_type"] for x in chain] == ["increment", "credit_block_expiry"]
    assert parse_ts(chain[1]["created_at"]) == exp


def test_R_EXPY_2_expiry_entry_before_later_decrement(api: Api, cust: dict[str, Any]) -> None:
    """A decrement written after the expiry instant follows the lazily written expiry entry."""
    cid = cust["id"]
    exp = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    b = api.inc(cid, 10, expiry_date=iso(exp))["credit_block"]["id"]
    keep = api.inc(cid, 5)["credit_block"]["id"]
    time.sleep(max(0.0, (exp - utcnow()).total_seconds()) + 1.2)
    d = api.dec(cid, 3)  # first request after expiry
    assert d["credit_block"]["id"] == keep
    assert (d["ledger_sequence_number"], d["starting_balance"], d["ending_balance"]) == (4, 5, 2)
    chain = api.chain(cid)
    assert [x["entry_type"] for x in chain] == [
        "increment",
        "increment",
        "credit_block_expiry",
        "decrement",
    ]
    assert chain[2]["credit_block"]["id"] == b


def test_R_VOID_1_deficit_block_has_zero_ceiling(api: Api, cust: dict[str, Any]) -> None:
    d = api.dec(cust["id"], 5)["credit_block"]["id"]
    assert_error(
        api.entry_raw(cust["id"], entry_type="void", block_id=d, amount=1), 400, CONSTRAINT
    )


def test_R_EXP_2_expiry_lookup_uses_named_ledger(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    tb = api.inc(cid, 10, currency="tokens", expiry_date="2099-06-01")["credit_block"]["id"]
    r = api.entry_raw(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-01",
        target_expiry_date="2099-07-01",
    )
    assert_error(r, 400, CONSTRAINT)
    e = api.entry(
        cid,
        entry_type="expiration_change",
        expiry_date="2099-06-01",
        target_expiry_date="2099-07-01",
        currency="tokens",
    )
    assert e["credit_block"]["id"] == tb and e["currency"] == "tokens"


def test_R_CUR_3_pricing_unit_length_limit(api: Api, cust: dict[str, Any]) -> None:
    assert (
        api.entry_raw(cust["id"], entry_type="increment", amount=1, currency="u" * 65).status_code
        == 400
    )
    api.inc(cust["id"], 1, currency="u" * 64)


def test_R_CUR_2_listing_normalises_and_mismatch_is_empty(api: Api) -> None:
    c = api.customer(currency="USD")
    api.inc(c["id"], 2, currency="USD")
    assert [b["balance"] for b in api.blocks(c["id"], currency="usd")] == [2]
    assert api.ledger(c["id"], currency="EUR") == []
    assert len(api.ledger(c["id"], currency="usd")) == 1


def test_E1_three_letter_non_iso_currency_rejected(api: Api) -> None:
    r = api.call(
        "POST", "/customers", json={"name": "x", "email": "a@b.example", "currency": "ABC"}
    )
    assert r.status_code == 400
