"""Black-box acceptance tests: block dates: expiry materialised on read (R-TIME-1, R-EXPY),
date-only targets, timestamps without fractions (§1.6).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import httpx
from spec_support import (
    block,
    blocks,
    customer,
    entry,
    http_fixture,  # noqa: F401 (a fixture)
    incr,
    invoice,
    iso,
    ledger,
    ok,
    purchase,
    same_instant,
    the_invoice,
    top_up,
    top_up_increments,
)

# ============================================================== R-TIME-1


def test_r_time_1_expiry_materialised_on_block_list(http: httpx.Client) -> None:
    cus = customer(http)
    exp = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
    bid = incr(http, cus["id"], 25, expiry_date=iso(exp))["credit_block"]["id"]
    assert [x["balance"] for x in blocks(http, cus["id"])] == [25]
    while datetime.now(UTC) < exp + timedelta(milliseconds=300):
        time.sleep(0.2)
    assert blocks(http, cus["id"]) == []
    entries = ledger(http, cus["id"])
    assert [e["entry_type"] for e in entries] == ["increment", "credit_block_expiry"]
    x = entries[1]
    assert x["amount"] == 25 and (x["starting_balance"], x["ending_balance"]) == (25, 0)
    assert x["credit_block"]["id"] == bid
    assert same_instant(x["created_at"], exp)
    assert x["entry_status"] == "committed"


def test_r_time_1_expiry_materialised_on_block_fetch(http: httpx.Client) -> None:
    cus = customer(http)
    exp = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    bid = incr(http, cus["id"], 25, expiry_date=iso(exp))["credit_block"]["id"]
    while datetime.now(UTC) < exp + timedelta(milliseconds=300):
        time.sleep(0.2)
    assert block(http, bid)["balance"] == 0


def test_r_time_1_expiry_created_at_is_expiry_instant_when_read_late(http: httpx.Client) -> None:
    cus = customer(http)
    exp = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0) + timedelta(seconds=1)
    incr(http, cus["id"], 5, expiry_date=iso(exp))
    time.sleep(3.5)
    x = ledger(http, cus["id"], entry_type="credit_block_expiry")
    assert len(x) == 1 and same_instant(x[0]["created_at"], exp)


def test_r_inc_4_already_expired_increment_expires_in_same_request(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(
        http,
        cus["id"],
        10,
        effective_date="2024-01-01T00:00:00Z",
        expiry_date="2024-02-01T00:00:00Z",
    )
    assert e["entry_type"] == "increment"
    entries = ledger(http, cus["id"])
    assert [(x["entry_type"], x["amount"], x["ending_balance"]) for x in entries] == [
        ("increment", 10, 10),
        ("credit_block_expiry", 10, 0),
    ]


def test_r_expy_4_pending_payment_block_expires(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(
        http,
        cus["id"],
        10,
        "1",
        require_successful_payment=True,
        effective_date="2024-01-01T00:00:00Z",
        expiry_date="2024-02-01T00:00:00Z",
    )
    assert block(http, e["credit_block"]["id"])["balance"] == 0
    assert [x["entry_type"] for x in ledger(http, cus["id"])] == [
        "increment",
        "credit_block_expiry",
    ]


# ============================================================== more edges


def test_r_expy_2_simultaneous_expiries_in_drawdown_order(http: httpx.Client) -> None:
    cus = customer(http)
    exp = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
    costly = incr(http, cus["id"], 10, per_unit_cost_basis="0.5", expiry_date=iso(exp))[
        "credit_block"
    ]["id"]
    cheap = incr(http, cus["id"], 20, per_unit_cost_basis="0.1", expiry_date=iso(exp))[
        "credit_block"
    ]["id"]
    while datetime.now(UTC) < exp + timedelta(milliseconds=300):
        time.sleep(0.2)
    x = ledger(http, cus["id"], entry_type="credit_block_expiry")
    assert [
        (e["credit_block"]["id"], e["amount"], e["starting_balance"], e["ending_balance"])
        for e in x
    ] == [(cheap, 20, 30, 10), (costly, 10, 10, 0)]


NO_FRACTION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_s1_6_date_boundary_fields_emitted_without_fractions(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(
        http,
        cus["id"],
        10,
        "1",
        net_terms=3,
        expiry_date=(datetime.now(UTC) + timedelta(days=40)).isoformat(),
    )
    inv = invoice(http, the_invoice(e)["id"])
    b = block(http, e["credit_block"]["id"])
    for v in (
        inv["invoice_date"],
        inv["due_date"],
        b["effective_date"],
        b["expiry_date"],
        e["credit_block"]["expiry_date"],
    ):
        assert NO_FRACTION.match(v), v


def test_s1_6_top_up_block_dates_without_fractions(http: httpx.Client) -> None:
    cus = customer(http)
    ok(
        top_up(
            http,
            cus["id"],
            threshold="10",
            net_terms=2,
            expires_after=1,
            expires_after_unit="month",
        ),
        201,
    )
    (t,) = top_up_increments(http, cus["id"])
    b = block(http, t["credit_block"]["id"])
    inv = the_invoice(t)
    for v in (b["effective_date"], b["expiry_date"], inv["invoice_date"], inv["due_date"]):
        assert NO_FRACTION.match(v), v


def test_r_exp_1_child_expiry_from_date_only_target_in_customer_tz(http: httpx.Client) -> None:
    cus = customer(http, tz="America/Los_Angeles")
    bid = incr(http, cus["id"], 10, expiry_date="2030-01-01")["credit_block"]["id"]
    assert block(http, bid)["expiry_date"] == "2030-01-01T08:00:00Z"
    ok(
        entry(
            http,
            cus["id"],
            entry_type="expiration_change",
            block_id=bid,
            amount=4,
            target_expiry_date="2030-07-01",
        ),
        201,
    )
    child = next(b for b in blocks(http, cus["id"]) if b["id"] != bid)
    assert child["expiry_date"] == "2030-07-01T07:00:00Z"
    assert (
        child["status"] == "active"
        and child["credit_block_source"] == "manual"
        and child["metadata"] == {}
    )
    assert child["maximum_initial_balance"] == 4
