"""Black-box acceptance tests: customers (§2.1, E1-E7, R-CUS, R-META-1): creation defaults,
validation, updates, deletion, listing and pagination.

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from spec_support import (
    CONSTRAINT,
    DUPLICATE,
    NOT_FOUND,
    VALIDATION,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    iso,
    ts,
    utcnow,
)

from conftest import unique

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
    assert abs((ts(c["created_at"]) - utcnow()).total_seconds()) < 60


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


def test_E2_created_at_lt_filter(api: Api) -> None:
    c = api.customer()
    before = iso(ts(c["created_at"]) - dt.timedelta(seconds=1))
    r = api.call("GET", "/customers", 200, params={"created_at[lt]": before, "limit": 100})
    assert c["id"] not in [x["id"] for x in r.json()["data"]]


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


def test_E1_three_letter_non_iso_currency_rejected(api: Api) -> None:
    r = api.call(
        "POST", "/customers", json={"name": "x", "email": "a@b.example", "currency": "ABC"}
    )
    assert r.status_code == 400
