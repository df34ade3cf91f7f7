"""Black-box acceptance tests: expiry (§4.9, R-EXPY, R-TIME-1): expiry entries, their timestamps
and their place in the chain.

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from spec_support import (
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    cust_fixture,  # noqa: F401 (a fixture)
    iso,
    ts,
    utcnow,
)

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
    assert ts(x["created_at"]) == ts(e["created_at"])
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
        assert ts(x["created_at"]) == exp
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


# ============================================================== additional edge probes


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


def test_R_TIME_1_block_fetch_materialises_expiry(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    exp = utcnow().replace(microsecond=0) + dt.timedelta(seconds=2)
    b = api.inc(cid, 10, expiry_date=iso(exp))["credit_block"]["id"]
    time.sleep(max(0.0, (exp - utcnow()).total_seconds()) + 1.2)
    assert api.block(b)["balance"] == 0  # first read after expiry is the block fetch
    chain = api.chain(cid)
    assert [x["entry_type"] for x in chain] == ["increment", "credit_block_expiry"]
    assert ts(chain[1]["created_at"]) == exp


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
