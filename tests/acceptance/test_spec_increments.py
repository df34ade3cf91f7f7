"""Black-box acceptance tests: increments (§4.6, §3.4, R-INC), pending entries (§4.3, R-PEND)
and dates in the customer's timezone (§4.4, R-TZ).

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from spec_support import (
    FAR,
    VALIDATION,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    iso,
    ts,
    utcnow,
)

from conftest import Server

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
    eff = ts(b["effective_date"])
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
    assert abs((ts(e["created_at"]) - utcnow()).total_seconds()) < 60
    # backdating does not re-allocate the earlier decrement
    decs = [x for x in api.chain(cid) if x["entry_type"] == "decrement"]
    assert len(decs) == 1 and decs[0]["credit_block"]["id"] != e["credit_block"]["id"]
    assert api.block(e["credit_block"]["id"])["balance"] == 20


# ============================================================== additional edge probes


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


def test_R_TZ_1_query_date_only_in_customer_tz(api: Api) -> None:
    c = api.customer(timezone="Asia/Tokyo")
    b = api.inc(c["id"], 1, effective_date="2098-12-31T16:00:00Z")["credit_block"]["id"]
    # 2099-01-01 Tokyo = 2098-12-31T15:00Z <= 16:00Z -> included
    got = api.blocks(c["id"], **{"effective_date[gte]": "2099-01-01"})
    assert [x["id"] for x in got] == [b]


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
