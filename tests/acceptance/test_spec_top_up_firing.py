"""Black-box acceptance tests: when a top-up fires and what it writes (R-TOP-2..5, R-TOP-7,
R-TOP-8).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from spec_support import (
    NOT_FOUND,
    add_months,
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
    same_instant,
    the_invoice,
    top_up,
    top_up_increments,
    top_ups,
    ts,
    void_invoice,
)

# ============================================================== §2.4 / §3.6 top-ups


def test_r_top_3_creation_time_evaluation_fires_once(http: httpx.Client) -> None:
    cus = customer(http)
    # D = 0 ≤ 100; one top-up of 5 leaves D = 5 ≤ 100 still, but only one fires per evaluation.
    ok(top_up(http, cus["id"], threshold="100", amount="5", cost="1.00"), 201)
    incs = top_up_increments(http, cus["id"])
    assert len(incs) == 1
    assert incs[0]["amount"] == 5
    assert (incs[0]["starting_balance"], incs[0]["ending_balance"]) == (0, 5)


def test_r_top_3_creation_time_no_fire_above_threshold(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 100)
    ok(top_up(http, cus["id"], threshold="50", amount="10"), 201)
    assert top_up_increments(http, cus["id"]) == []


def test_r_top_3_threshold_is_inclusive(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 50)
    ok(top_up(http, cus["id"], threshold="50", amount="10"), 201)
    assert len(top_up_increments(http, cus["id"])) == 1


def test_r_top_5_decrement_triggers_top_up_after_its_entries(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 100)
    ok(top_up(http, cus["id"], threshold="50", amount="200", cost="0.10"), 201)
    d = decr(http, cus["id"], 60)
    assert d["entry_type"] == "decrement"
    assert (d["starting_balance"], d["ending_balance"]) == (100, 40)
    entries = ledger(http, cus["id"])
    assert [(e["entry_type"], e["ledger_sequence_number"]) for e in entries] == [
        ("increment", 1),
        ("decrement", 2),
        ("increment", 3),
    ]
    t = entries[2]
    assert t["description"] == "Top-up"
    assert t["amount"] == 200
    assert (t["starting_balance"], t["ending_balance"]) == (40, 240)


def test_r_top_4_top_up_increment_fields(http: httpx.Client) -> None:
    cus = customer(http)
    before = datetime.now(UTC) - timedelta(seconds=1)
    ok(
        top_up(
            http,
            cus["id"],
            threshold="10",
            amount="100",
            cost="0.25",
            net_terms=5,
            invoice_settings={"memo": "topup memo", "auto_collection": True},
        ),
        201,
    )
    after = datetime.now(UTC) + timedelta(seconds=1)
    (t,) = top_up_increments(http, cus["id"])
    assert t["entry_status"] == "committed"
    assert t["currency"] == "credits"
    assert t["credit_block"]["per_unit_cost_basis"] == "0.25"
    assert t["credit_block"]["expiry_date"] is None
    b = block(http, t["credit_block"]["id"])
    assert b["credit_block_source"] == "top_up"
    assert b["status"] == "active"
    assert b["balance"] == 100 and b["maximum_initial_balance"] == 100
    assert b["expiry_date"] is None
    assert before <= ts(b["effective_date"]) <= after
    inv = the_invoice(t)
    assert inv["status"] == "issued"
    assert inv["total"] == "25.00"
    assert inv["memo"] == "topup memo"
    assert inv["auto_collection"]["enabled"] is True
    assert same_instant(inv["invoice_date"], b["effective_date"])
    assert ts(inv["due_date"]) == ts(inv["invoice_date"]) + timedelta(days=5)


def test_r_top_4_expires_after_days(http: httpx.Client) -> None:
    cus = customer(http)
    ok(top_up(http, cus["id"], threshold="10", expires_after=3, expires_after_unit="day"), 201)
    (t,) = top_up_increments(http, cus["id"])
    b = block(http, t["credit_block"]["id"])
    assert ts(b["expiry_date"]) == ts(b["effective_date"]) + timedelta(days=3)
    assert same_instant(t["credit_block"]["expiry_date"], b["expiry_date"])


def test_r_top_4_expires_after_days_local_calendar(http: httpx.Client) -> None:
    cus = customer(http, tz="America/Los_Angeles")
    ok(top_up(http, cus["id"], threshold="10", expires_after=200, expires_after_unit="day"), 201)
    (t,) = top_up_increments(http, cus["id"])
    b = block(http, t["credit_block"]["id"])
    la = ZoneInfo("America/Los_Angeles")
    start = ts(b["effective_date"]).astimezone(la)
    expected = (start.replace(tzinfo=None) + timedelta(days=200)).replace(tzinfo=la)
    assert ts(b["expiry_date"]) == expected.astimezone(UTC)


def test_r_top_4_expires_after_months_with_clamp(http: httpx.Client) -> None:
    cus = customer(http)
    ok(top_up(http, cus["id"], threshold="10", expires_after=3, expires_after_unit="month"), 201)
    (t,) = top_up_increments(http, cus["id"])
    b = block(http, t["credit_block"]["id"])
    assert ts(b["expiry_date"]) == add_months(ts(b["effective_date"]), 3)


def test_r_top_4_require_successful_payment_gives_pending_payment_block(http: httpx.Client) -> None:
    cus = customer(http)
    ok(
        top_up(
            http, cus["id"], threshold="10", invoice_settings={"require_successful_payment": True}
        ),
        201,
    )
    (t,) = top_up_increments(http, cus["id"])
    assert block(http, t["credit_block"]["id"])["status"] == "pending_payment"
    assert the_invoice(t)["status"] == "issued"


def test_r_top_4_top_up_in_real_currency_ledger(http: httpx.Client) -> None:
    cus = customer(http, currency="USD")
    ok(top_up(http, cus["id"], currency="usd", threshold="10", amount="20", cost="1"), 201)
    (t,) = top_up_increments(http, cus["id"])
    assert t["currency"] == "USD"
    assert top_ups(http, cus["id"])[0]["currency"] == "USD"


def test_r_top_2_not_armed_while_block_pending_payment(http: httpx.Client) -> None:
    cus = customer(http)
    ok(
        top_up(
            http,
            cus["id"],
            threshold="10",
            amount="50",
            cost="1.00",
            invoice_settings={"require_successful_payment": True},
        ),
        201,
    )
    (t1,) = top_up_increments(http, cus["id"])
    decr(http, cus["id"], 1)  # D = -1, but top-up is disarmed while t1's block is pending_payment
    assert len(top_up_increments(http, cus["id"])) == 1
    ok(mark_paid(http, the_invoice(t1)["id"]), 200)  # D = 49 > 10 → no fire
    assert len(top_up_increments(http, cus["id"])) == 1
    decr(http, cus["id"], 40)  # D = 9 → fires
    assert len(top_up_increments(http, cus["id"])) == 2


def test_r_inv_5_mark_paid_runs_top_up_evaluation(http: httpx.Client) -> None:
    cus = customer(http)
    ok(
        top_up(
            http,
            cus["id"],
            threshold="100",
            amount="50",
            cost="1.00",
            invoice_settings={"require_successful_payment": True},
        ),
        201,
    )
    (t1,) = top_up_increments(http, cus["id"])
    ok(mark_paid(http, the_invoice(t1)["id"]), 200)  # armed again, D = 50 ≤ 100 → one more fire
    assert len(top_up_increments(http, cus["id"])) == 2


def test_r_top_2_active_from_in_future_does_not_fire(http: httpx.Client) -> None:
    cus = customer(http)
    af = iso(datetime.now(UTC) + timedelta(days=1))
    ok(top_up(http, cus["id"], threshold="10", active_from=af), 201)
    assert top_up_increments(http, cus["id"]) == []
    decr(http, cus["id"], 5)
    assert top_up_increments(http, cus["id"]) == []


def test_r_top_8_void_of_top_up_invoice_deactivates_top_up(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="10"), 201)
    (t,) = top_up_increments(http, cus["id"])
    ok(void_invoice(http, the_invoice(t)["id"]), 200)
    assert top_ups(http, cus["id"]) == []
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}"), 404, NOT_FOUND)
    # credits of an active top-up block are untouched (R-INV-6 choice)
    assert block(http, t["credit_block"]["id"])["balance"] == 100


def test_r_top_7_delete_voids_pending_payment_invoices(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(
        top_up(
            http,
            cus["id"],
            threshold="10",
            amount="30",
            invoice_settings={"require_successful_payment": True},
        ),
        201,
    )
    (t,) = top_up_increments(http, cus["id"])
    bid = t["credit_block"]["id"]
    assert http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}").status_code == 204
    assert invoice(http, the_invoice(t)["id"])["status"] == "void"
    assert block(http, bid)["balance"] == 0
    v = ledger(http, cus["id"])[-1]
    assert v["entry_type"] == "void" and v["amount"] == 30 and v["credit_block"]["id"] == bid


def test_r_top_7_delete_leaves_active_top_up_invoice_issued(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="10", amount="30"), 201)
    (t,) = top_up_increments(http, cus["id"])
    assert http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}").status_code == 204
    assert invoice(http, the_invoice(t)["id"])["status"] == "issued"
    assert block(http, t["credit_block"]["id"])["balance"] == 30


def test_r_top_3_void_entry_triggers_evaluation(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 100)
    ok(top_up(http, cus["id"], threshold="20", amount="10"), 201)
    ok(entry(http, cus["id"], entry_type="void", block_id=e["credit_block"]["id"], amount=90), 201)
    assert len(top_up_increments(http, cus["id"])) == 1


def test_r_top_3_expiry_triggers_evaluation(http: httpx.Client) -> None:
    cus = customer(http)
    exp = datetime.now(UTC) + timedelta(seconds=2)
    incr(http, cus["id"], 100, expiry_date=exp.isoformat())
    ok(top_up(http, cus["id"], threshold="20", amount="10"), 201)
    assert top_up_increments(http, cus["id"]) == []
    time.sleep(3)
    entries = ledger(http, cus["id"])
    assert [e["entry_type"] for e in entries] == ["increment", "credit_block_expiry", "increment"]
    assert entries[2]["description"] == "Top-up"


# ============================================================== more edges


def test_r_top_3_threshold_compares_drawable_not_ledger_balance(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 100, effective_date="2031-01-01T00:00:00Z")  # L = 100, D = 0
    ok(top_up(http, cus["id"], threshold="10", amount="5"), 201)
    (t,) = top_up_increments(http, cus["id"])
    assert (t["starting_balance"], t["ending_balance"]) == (100, 105)


def test_r_top_1_replacement_evaluates_new_top_up(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 20)
    ok(top_up(http, cus["id"], threshold="10", amount="5"), 201)
    assert top_up_increments(http, cus["id"]) == []
    ok(top_up(http, cus["id"], threshold="30", amount="7"), 201)
    (t,) = top_up_increments(http, cus["id"])
    assert t["amount"] == 7


def test_r_top_4_custom_unit_top_up_invoice_in_customer_currency(http: httpx.Client) -> None:
    cus = customer(http, currency="EUR")
    ok(top_up(http, cus["id"], currency="tokens", threshold="1", amount="12.5", cost="2"), 201)
    (t,) = top_up_increments(http, cus["id"])
    assert t["currency"] == "tokens" and t["amount"] == 12.5
    inv = the_invoice(t)
    assert inv["currency"] == "EUR" and inv["total"] == "25.00"
    assert inv["line_items"][0]["quantity"] == 12.5
    assert [b["id"] for b in blocks(http, cus["id"], currency="tokens")] == [
        t["credit_block"]["id"]
    ]


def test_r_top_2_active_from_passes_then_armed(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 5)
    af = datetime.now(UTC) + timedelta(seconds=2)
    ok(top_up(http, cus["id"], threshold="10", amount="50", active_from=af.isoformat()), 201)
    assert top_up_increments(http, cus["id"]) == []
    while datetime.now(UTC) < af + timedelta(milliseconds=300):
        time.sleep(0.2)
    decr(http, cus["id"], 1)
    assert len(top_up_increments(http, cus["id"])) == 1


def test_r_top_8_void_of_pending_top_up_invoice_voids_block_and_deactivates(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    ok(
        top_up(
            http,
            cus["id"],
            threshold="10",
            amount="30",
            invoice_settings={"require_successful_payment": True},
        ),
        201,
    )
    (t,) = top_up_increments(http, cus["id"])
    ok(void_invoice(http, the_invoice(t)["id"]), 200)
    assert block(http, t["credit_block"]["id"])["balance"] == 0
    assert top_ups(http, cus["id"]) == []
    # the void lowered nothing drawable; in any case the top-up is inactive → never fires again
    decr(http, cus["id"], 1)
    assert len(top_up_increments(http, cus["id"])) == 1


def test_r_top_3_expiration_change_with_immediate_expiry_triggers(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(
        http,
        cus["id"],
        100,
        effective_date="2024-01-01T00:00:00Z",
        expiry_date="2030-01-01T00:00:00Z",
    )["credit_block"]["id"]
    ok(top_up(http, cus["id"], threshold="20", amount="10"), 201)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    ok(
        entry(
            http,
            cus["id"],
            entry_type="expiration_change",
            block_id=bid,
            amount=90,
            target_expiry_date=today,
        ),
        201,
    )
    entries = ledger(http, cus["id"])
    assert [e["entry_type"] for e in entries] == [
        "increment",
        "expiration_change",
        "credit_block_expiry",
        "increment",
    ]
    assert entries[-1]["description"] == "Top-up"
