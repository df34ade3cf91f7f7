"""Black-box acceptance tests: an invoice's status: the R-INV-4 table at creation, mark paid,
void and issue (R-INV-5..7, E26-E28).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from spec_support import (
    CONSTRAINT,
    NOT_FOUND,
    VALIDATION,
    block,
    blocks,
    customer,
    decr,
    entry,
    err,
    http_fixture,  # noqa: F401 (a fixture)
    incr,
    invoice,
    ledger,
    mark_paid,
    ok,
    purchase,
    same_instant,
    the_invoice,
    ts,
    void_invoice,
)

# ============================================================== R-INV-4 table


def test_r_inv_4_row1_mark_as_paid_paid_with_payment_received_at_invoice_date(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    before = datetime.now(UTC) - timedelta(seconds=1)
    e = purchase(http, cus["id"], effective_date="2024-03-01T06:00:00Z", mark_as_paid=True)
    after = datetime.now(UTC) + timedelta(seconds=1)
    inv = the_invoice(e)
    assert inv["status"] == "paid"
    assert inv["invoice_date"] == "2024-03-01T06:00:00Z"
    # payment_received_at is not a date-boundary field (§1.6): fractions allowed, compare instants
    assert same_instant(inv["payment_received_at"], inv["invoice_date"])
    assert inv["paid_at"] is not None and before <= ts(inv["paid_at"]) <= after
    assert block(http, e["credit_block"]["id"])["status"] == "active"


def test_r_inv_4_row1_mark_as_paid_beats_require_successful_payment(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], mark_as_paid=True, require_successful_payment=True)
    assert the_invoice(e)["status"] == "paid"
    assert block(http, e["credit_block"]["id"])["status"] == "active"


def test_r_inv_4_row2_zero_total_is_paid_without_payment_received_at(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 50, "0")
    inv = the_invoice(e)
    assert inv["total"] == "0.00"
    assert inv["status"] == "paid"
    assert inv["payment_received_at"] is None
    assert block(http, e["credit_block"]["id"])["status"] == "active"


def test_r_inv_4_row2_total_rounding_to_zero_counts_as_zero(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 4, "0.001")  # 0.004 → 0.00
    inv = the_invoice(e)
    assert inv["total"] == "0.00"
    assert inv["status"] == "paid"
    assert inv["payment_received_at"] is None


def test_r_inv_4_row2_zero_total_beats_require_successful_payment(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 50, "0.00", require_successful_payment=True)
    assert the_invoice(e)["status"] == "paid"
    assert block(http, e["credit_block"]["id"])["status"] == "active"


def test_r_inv_4_row3_require_successful_payment_issued_and_pending_payment(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20", require_successful_payment=True)
    inv = the_invoice(e)
    assert inv["status"] == "issued"
    assert inv["paid_at"] is None and inv["payment_received_at"] is None
    b = block(http, e["credit_block"]["id"])
    assert b["status"] == "pending_payment"
    assert b["balance"] == 100


def test_r_inv_4_row3_pending_payment_block_listed_by_default_but_not_drawable(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20", require_successful_payment=True)
    bid = e["credit_block"]["id"]
    assert bid in [b["id"] for b in blocks(http, cus["id"])]
    d = decr(http, cus["id"], 10)
    assert d["credit_block"]["id"] != bid  # deficit block, never the pending_payment block
    assert block(http, bid)["balance"] == 100


def test_r_inv_4_row4_otherwise_issued_and_active(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20")
    inv = the_invoice(e)
    assert inv["status"] == "issued"
    assert (
        inv["paid_at"] is None and inv["payment_received_at"] is None and inv["voided_at"] is None
    )
    assert block(http, e["credit_block"]["id"])["status"] == "active"


def test_r_inv_4_auto_collection_memo_item_stored(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(
        purchase(http, cus["id"], auto_collection=True, memo="Thanks!", item_id="itm_credits_x")
    )
    assert inv["auto_collection"] == {
        "enabled": True,
        "next_attempt_at": None,
        "num_attempts": None,
        "previously_attempted_at": None,
    }
    assert inv["memo"] == "Thanks!"
    assert inv["line_items"][0]["price"]["item"]["id"] == "itm_credits_x"


def test_r_inv_4_auto_collection_false_stored(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], auto_collection=False))
    assert inv["auto_collection"]["enabled"] is False
    assert inv["memo"] is None


# ============================================================== R-INV-5 / 6 / 7


def test_r_inv_5_mark_paid_activates_pending_payment_block_without_entry(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20", require_successful_payment=True)
    bid = e["credit_block"]["id"]
    n = len(ledger(http, cus["id"]))
    inv = ok(mark_paid(http, the_invoice(e)["id"]), 200)
    assert inv["status"] == "paid"
    b = block(http, bid)
    assert b["status"] == "active" and b["balance"] == 100
    assert len(ledger(http, cus["id"])) == n
    d = decr(http, cus["id"], 10)
    assert d["credit_block"]["id"] == bid
    assert block(http, bid)["balance"] == 90


def test_e26_payment_received_at_is_date_at_midnight_in_customer_timezone(
    http: httpx.Client,
) -> None:
    cus = customer(http, tz="America/New_York")
    e = purchase(http, cus["id"])
    before = datetime.now(UTC) - timedelta(seconds=1)
    inv = ok(mark_paid(http, the_invoice(e)["id"], "2024-07-04", external_id="x1", notes="n"), 200)
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert inv["status"] == "paid"
    assert same_instant(inv["payment_received_at"], "2024-07-04T04:00:00Z")
    assert before <= ts(inv["paid_at"]) <= after


def test_e26_amount_due_stays_equal_to_total_after_paid(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20")
    inv = ok(mark_paid(http, the_invoice(e)["id"]), 200)
    assert inv["amount_due"] == inv["total"] == inv["subtotal"] == "20.00"
    assert invoice(http, inv["id"])["amount_due"] == "20.00"


def test_e26_mark_paid_from_paid_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], mark_as_paid=True))
    err(mark_paid(http, inv["id"]), 400, CONSTRAINT)


def test_e26_mark_paid_from_void_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    ok(void_invoice(http, inv["id"]), 200)
    err(mark_paid(http, inv["id"]), 400, CONSTRAINT)


def test_e26_missing_payment_received_date_is_validation_error(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    err(http.post(f"/invoices/{inv['id']}/mark_paid", json={}), 400, VALIDATION)
    assert invoice(http, inv["id"])["status"] == "issued"


def test_e26_unknown_invoice_404(http: httpx.Client) -> None:
    err(mark_paid(http, "NoSuchInvoice000"), 404, NOT_FOUND)


def test_e26_status_code_200(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    assert mark_paid(http, inv["id"]).status_code == 200


def test_r_inv_6_void_invoice_voids_pending_payment_block(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20", require_successful_payment=True)
    bid = e["credit_block"]["id"]
    before = datetime.now(UTC) - timedelta(seconds=1)
    inv = ok(void_invoice(http, the_invoice(e)["id"]), 200)
    assert inv["status"] == "void"
    assert before <= ts(inv["voided_at"]) <= datetime.now(UTC) + timedelta(seconds=1)
    assert block(http, bid)["balance"] == 0
    entries = ledger(http, cus["id"])
    assert [x["entry_type"] for x in entries] == ["increment", "void"]
    v = entries[-1]
    assert v["amount"] == 100 and v["void_amount"] == 100 and v["void_reason"] is None
    assert v["credit_block"]["id"] == bid
    assert (v["starting_balance"], v["ending_balance"]) == (100, 0)


def test_r_inv_6_void_invoice_of_active_block_leaves_credits(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20")
    ok(void_invoice(http, the_invoice(e)["id"]), 200)
    assert block(http, e["credit_block"]["id"])["balance"] == 100
    assert [x["entry_type"] for x in ledger(http, cus["id"])] == ["increment"]


def test_e27_void_from_paid_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], mark_as_paid=True))
    err(void_invoice(http, inv["id"]), 400, CONSTRAINT)
    assert invoice(http, inv["id"])["status"] == "paid"


def test_e27_void_from_void_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    ok(void_invoice(http, inv["id"]), 200)
    err(void_invoice(http, inv["id"]), 400, CONSTRAINT)


def test_e28_issue_on_issued_invoice_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    err(http.post(f"/invoices/{inv['id']}/issue", json={"synchronous": True}), 400, CONSTRAINT)
    err(http.post(f"/invoices/{inv['id']}/issue", json={}), 400, CONSTRAINT)


def test_e28_issue_on_paid_invoice_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], mark_as_paid=True))
    err(http.post(f"/invoices/{inv['id']}/issue", json={}), 400, CONSTRAINT)


def test_r_inv_7_cost_basis_echoed_on_block_entry_and_expiration_child(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 100, per_unit_cost_basis="0.20", expiry_date="2030-01-01T00:00:00Z")
    assert e["credit_block"]["per_unit_cost_basis"] == "0.20"
    bid = e["credit_block"]["id"]
    assert block(http, bid)["per_unit_cost_basis"] == "0.20"
    d = decr(http, cus["id"], 5)
    assert d["credit_block"]["per_unit_cost_basis"] == "0.20"
    ok(
        entry(
            http,
            cus["id"],
            entry_type="expiration_change",
            block_id=bid,
            amount=10,
            target_expiry_date="2031-01-01",
        ),
        201,
    )
    child = [b for b in blocks(http, cus["id"]) if b["id"] != bid]
    assert len(child) == 1 and child[0]["per_unit_cost_basis"] == "0.20"


# ============================================================== more edges


def test_r_inv_4_row1_wins_over_zero_total(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 10, "0", effective_date="2024-03-01T00:00:00Z", mark_as_paid=True)
    inv = the_invoice(e)
    assert inv["status"] == "paid"
    assert same_instant(inv["payment_received_at"], "2024-03-01T00:00:00Z")
    assert inv["paid_at"] is not None


def test_e26_invalid_payment_received_date_is_validation_error(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    err(mark_paid(http, inv["id"], "not-a-date"), 400, VALIDATION)


def test_e27_e28_unknown_invoice_404(http: httpx.Client) -> None:
    err(http.post("/invoices/NoSuchInvoice000/void"), 404, NOT_FOUND)
    err(http.post("/invoices/NoSuchInvoice000/issue", json={}), 404, NOT_FOUND)


def test_e28_issue_on_void_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    ok(void_invoice(http, inv["id"]), 200)
    err(http.post(f"/invoices/{inv['id']}/issue", json={}), 400, CONSTRAINT)
