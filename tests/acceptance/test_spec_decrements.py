"""Black-box acceptance tests: decrements (§4.7, R-DED): drawdown order, the deficit block, and
negative balances (§4.8, R-NEG).

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

from typing import Any

from spec_support import (
    FAR,
    VALIDATION,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    ts,
    utcnow,
)

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
    assert abs((ts(b["effective_date"]) - utcnow()).total_seconds()) < 60
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


# ============================================================== additional edge probes


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
