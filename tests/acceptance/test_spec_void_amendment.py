"""Black-box acceptance tests: voids (§4.11, R-VOID), amendments (§4.12, R-AMD) and which ledger
a block belongs to (R-CUR).

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spec_support import (
    CONSTRAINT,
    NOT_FOUND,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    ts,
    utcnow,
)

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
    nbe = ts(vi["new_block_expiry_date"])
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


# ============================================================== additional edge probes


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


def test_R_VOID_1_deficit_block_has_zero_ceiling(api: Api, cust: dict[str, Any]) -> None:
    d = api.dec(cust["id"], 5)["credit_block"]["id"]
    assert_error(
        api.entry_raw(cust["id"], entry_type="void", block_id=d, amount=1), 400, CONSTRAINT
    )
