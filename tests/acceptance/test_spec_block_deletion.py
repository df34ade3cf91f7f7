"""Black-box acceptance tests: deleting a block and replaying the ledger without it (E22,
R-DEL).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from spec_support import (
    CONSTRAINT,
    NOT_FOUND,
    block,
    blocks,
    customer,
    decr,
    entry,
    err,
    http_fixture,  # noqa: F401 (a fixture)
    incr,
    invoice,
    iso,
    ledger,
    mark_paid,
    ok,
    purchase,
    same_instant,
    the_invoice,
    top_up,
    top_up_increments,
)

# ============================================================== E22 deletion + replay


def test_e22_delete_then_404_everywhere(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    r = http.delete(f"/credit_blocks/{bid}")
    assert r.status_code == 204 and r.content == b""
    err(http.get(f"/credit_blocks/{bid}"), 404, NOT_FOUND)
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"a": "b"}}), 404, NOT_FOUND)
    err(http.get(f"/credit_blocks/{bid}/invoices"), 404, NOT_FOUND)
    err(http.delete(f"/credit_blocks/{bid}"), 404, NOT_FOUND)
    assert blocks(http, cus["id"], include_all_blocks="true") == []
    assert ledger(http, cus["id"]) == []


def test_e22_unknown_block_404(http: httpx.Client) -> None:
    err(http.delete("/credit_blocks/NoSuchBlock00000"), 404, NOT_FOUND)


def test_r_del_2_replay_reallocates_decrement(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a_e = incr(http, c, 50, per_unit_cost_basis="0", expiry_date="2030-01-01T00:00:00Z")
    b_e = incr(http, c, 100)
    d = decr(http, c, 70, description="use", metadata={"m": "1"})
    orig = ledger(http, c)
    assert [(e["entry_type"], e["credit_block"]["id"], e["amount"]) for e in orig] == [
        ("increment", a_e["credit_block"]["id"], 50),
        ("increment", b_e["credit_block"]["id"], 100),
        ("decrement", a_e["credit_block"]["id"], 50),
        ("decrement", b_e["credit_block"]["id"], 20),
    ]
    assert d["credit_block"]["id"] == b_e["credit_block"]["id"]
    assert http.delete(f"/credit_blocks/{a_e['credit_block']['id']}").status_code == 204
    after = ledger(http, c)
    assert [
        (
            e["entry_type"],
            e["credit_block"]["id"],
            e["amount"],
            e["ledger_sequence_number"],
            e["starting_balance"],
            e["ending_balance"],
        )
        for e in after
    ] == [
        ("increment", b_e["credit_block"]["id"], 100, 1, 0, 100),
        ("decrement", b_e["credit_block"]["id"], 70, 2, 100, 30),
    ]
    assert after[0]["id"] == b_e["id"]  # same entry id for the increment
    assert after[0]["created_at"] == orig[1]["created_at"]
    assert after[1]["created_at"] == orig[3]["created_at"]
    assert after[1]["description"] == "use" and after[1]["metadata"] == {"m": "1"}
    assert block(http, b_e["credit_block"]["id"])["balance"] == 30
    assert [x["balance"] for x in blocks(http, c)] == [30]


def test_r_del_2_replay_negative_when_remaining_block_insufficient(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 50, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, c, 10)["credit_block"]["id"]
    decr(http, c, 40)  # all from a
    assert block(http, b)["balance"] == 10
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    assert block(http, b)["balance"] == -30
    after = ledger(http, c)
    assert [
        (e["entry_type"], e["amount"], e["starting_balance"], e["ending_balance"]) for e in after
    ] == [("increment", 10, 0, 10), ("decrement", 40, 10, -30)]


def test_r_del_2_replay_deficit_block_when_no_block_left(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 50)["credit_block"]["id"]
    decr(http, c, 20)
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    after = ledger(http, c)
    assert [
        (
            e["entry_type"],
            e["amount"],
            e["ledger_sequence_number"],
            e["starting_balance"],
            e["ending_balance"],
        )
        for e in after
    ] == [("decrement", 20, 1, 0, -20)]
    (deficit,) = blocks(http, c)
    assert deficit["balance"] == -20 and deficit["maximum_initial_balance"] == 0
    assert deficit["per_unit_cost_basis"] is None and deficit["expiry_date"] is None


def test_r_del_1_cascades_to_expiration_change_children(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 100, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    keep = incr(http, c, 5)["credit_block"]["id"]
    ok(
        entry(
            http,
            c,
            entry_type="expiration_change",
            block_id=a,
            amount=40,
            target_expiry_date="2031-01-01",
        ),
        201,
    )
    child = [x["id"] for x in blocks(http, c) if x["id"] not in (a, keep)]
    assert len(child) == 1
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    err(http.get(f"/credit_blocks/{child[0]}"), 404, NOT_FOUND)
    assert [x["id"] for x in blocks(http, c, include_all_blocks="true")] == [keep]
    after = ledger(http, c)
    assert [(e["entry_type"], e["ledger_sequence_number"], e["ending_balance"]) for e in after] == [
        ("increment", 1, 5)
    ]


def test_r_del_2_replay_rederives_expiry_with_recomputed_amount(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    exp_z, exp_x = now + timedelta(seconds=3), now + timedelta(seconds=4)
    z = incr(http, c, 50, per_unit_cost_basis="0", expiry_date=iso(exp_z))["credit_block"]["id"]
    x = incr(http, c, 30, per_unit_cost_basis="0", expiry_date=iso(exp_x))["credit_block"]["id"]
    decr(http, c, 20)  # z (soonest) → z 30
    while datetime.now(UTC) < exp_x + timedelta(milliseconds=300):
        time.sleep(0.2)
    before = ledger(http, c)
    assert [(e["entry_type"], e["credit_block"]["id"], e["amount"]) for e in before] == [
        ("increment", z, 50),
        ("increment", x, 30),
        ("decrement", z, 20),
        ("credit_block_expiry", z, 30),
        ("credit_block_expiry", x, 30),
    ]
    assert http.delete(f"/credit_blocks/{z}").status_code == 204
    after = ledger(http, c)
    assert [
        (
            e["entry_type"],
            e["credit_block"]["id"],
            e["amount"],
            e["ledger_sequence_number"],
            e["starting_balance"],
            e["ending_balance"],
        )
        for e in after
    ] == [
        ("increment", x, 30, 1, 0, 30),
        ("decrement", x, 20, 2, 30, 10),
        ("credit_block_expiry", x, 10, 3, 10, 0),
    ]
    assert same_instant(after[2]["created_at"], exp_x)
    assert block(http, x)["balance"] == 0


def test_r_del_4_issued_invoice_voided(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    assert http.delete(f"/credit_blocks/{e['credit_block']['id']}").status_code == 204
    inv = invoice(http, the_invoice(e)["id"])
    assert inv["status"] == "void"
    assert inv["voided_at"] is not None


def test_r_del_4_paid_invoice_left_paid(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], mark_as_paid=True)
    assert http.delete(f"/credit_blocks/{e['credit_block']['id']}").status_code == 204
    assert invoice(http, the_invoice(e)["id"])["status"] == "paid"


def test_r_del_5_top_up_not_reevaluated_on_replay(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 100)["credit_block"]["id"]
    ok(top_up(http, c, threshold="10", amount="5"), 201)  # D=100 → no fire
    assert top_up_increments(http, c) == []
    assert http.delete(f"/credit_blocks/{a}").status_code == 204  # D=0 now, but no re-evaluation
    assert top_up_increments(http, c) == []
    assert ledger(http, c) == []


def test_r_del_5_top_up_increment_replayed(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 100, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    ok(top_up(http, c, threshold="50", amount="20"), 201)
    decr(http, c, 60)  # D=40 → top-up fires (+20)
    (t,) = top_up_increments(http, c)
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    after = ledger(http, c)
    # original order: inc a, decrement, top-up inc; a is gone → decrement (deficit), top-up inc.
    assert [(e["entry_type"], e["ledger_sequence_number"]) for e in after] == [
        ("decrement", 1),
        ("increment", 2),
    ]
    assert after[1]["id"] == t["id"] and after[1]["credit_block"]["id"] == t["credit_block"]["id"]
    assert (after[0]["starting_balance"], after[0]["ending_balance"]) == (0, -60)
    assert (after[1]["starting_balance"], after[1]["ending_balance"]) == (-60, -40)


def test_r_del_3_sequence_renumbered_and_chain_holds(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 10)["credit_block"]["id"]
    incr(http, c, 20, expiry_date="2030-01-01T00:00:00Z")
    decr(http, c, 5)
    incr(http, c, 30)
    decr(http, c, 3)
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    after = ledger(http, c)
    assert [e["ledger_sequence_number"] for e in after] == list(range(1, len(after) + 1))
    prev = 0
    for e in after:
        assert e["starting_balance"] == prev
        prev = e["ending_balance"]
    assert prev == sum(b["balance"] for b in blocks(http, c)) == 42


# ============================================================== more edges


def test_r_del_4_voided_invoice_cannot_be_marked_paid(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    assert http.delete(f"/credit_blocks/{e['credit_block']['id']}").status_code == 204
    err(mark_paid(http, the_invoice(e)["id"]), 400, CONSTRAINT)


def test_r_del_2_replay_reapplies_void_beyond_balance(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 50, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, c, 100)["credit_block"]["id"]
    decr(http, c, 70)  # a 0, b 80
    ok(entry(http, c, entry_type="void", block_id=b, amount=80), 201)  # b 0
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    # replay: b 100, dec 70 → 30, void 80 (≤ C − V = 100) → void_initiated(30) + void(80) → −50
    after = ledger(http, c)
    assert [
        (
            e["entry_type"],
            e["amount"],
            e["ledger_sequence_number"],
            e["starting_balance"],
            e["ending_balance"],
        )
        for e in after
    ] == [
        ("increment", 100, 1, 0, 100),
        ("decrement", 70, 2, 100, 30),
        ("void_initiated", 30, 3, 30, 30),
        ("void", 80, 4, 30, -50),
    ]
    assert block(http, b)["balance"] == -50


def test_r_del_2_replay_clamps_expiration_change(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 50, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, c, 100, expiry_date="2031-01-01T00:00:00Z")["credit_block"]["id"]
    decr(http, c, 60)  # a 0, b 90
    ok(
        entry(
            http,
            c,
            entry_type="expiration_change",
            block_id=b,
            amount=90,
            target_expiry_date="2032-01-01",
        ),
        201,
    )
    assert http.delete(f"/credit_blocks/{a}").status_code == 204
    after = ledger(http, c)
    assert [
        (
            e["entry_type"],
            e["amount"],
            e["ledger_sequence_number"],
            e["starting_balance"],
            e["ending_balance"],
        )
        for e in after
    ] == [
        ("increment", 100, 1, 0, 100),
        ("decrement", 60, 2, 100, 40),
        ("expiration_change", 40, 3, 40, 40),
    ]
    (child,) = blocks(http, c)  # b is at 0 and hidden; only the 40-credit child remains
    assert (
        child["id"] != b
        and child["balance"] == 40
        and child["expiry_date"] == "2032-01-01T00:00:00Z"
    )
    assert block(http, b)["balance"] == 0
