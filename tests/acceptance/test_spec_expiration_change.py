"""Black-box acceptance tests: expiration changes (§4.10, R-EXP): choosing the source block,
amounts, targets and the child block.

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

from typing import Any

from spec_support import (
    CONSTRAINT,
    VALIDATION,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    utcnow,
)

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


# ============================================================== additional edge probes


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
