"""Black-box acceptance tests: purchases (invoices), top-ups and credit blocks.

Written from the rules alone (docs/rules.md §1, §2.2, §2.4-2.6, §3.2, §3.6, §3.7,
§4.9/R-TIME-1, §4.13-4.15). Every test names the rule it checks.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orb
import pytest

from conftest import Server, unique

ERR = "https://docs.withorb.com/reference/error-responses#"
VALIDATION = ERR + "400-request-validation-errors"
CONSTRAINT = ERR + "400-constraint-violation"
NOT_FOUND = ERR + "404-resource-not-found"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def http(server: Server) -> Any:
    with server.http() as h:
        yield h


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def same_instant(a: str | None, b: str | datetime | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    bb = ts(b) if isinstance(b, str) else b
    return ts(a) == bb


def ok(resp: httpx.Response, status: int | None = None) -> Any:
    assert resp.status_code < 300, (resp.status_code, resp.text)
    if status is not None:
        assert resp.status_code == status, (resp.status_code, resp.text)
    return resp.json() if resp.content else None


def err(resp: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    if type_ is not None:
        assert body["type"] == type_, body
    return body


def customer(
    http: httpx.Client, currency: str | None = "USD", tz: str | None = None, **kw: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme",
        "email": "a@example.com",
        "external_customer_id": unique("c"),
    }
    if currency:
        body["currency"] = currency
    if tz:
        body["timezone"] = tz
    body.update(kw)
    return ok(http.post("/customers", json=body), 201)


def entry(http: httpx.Client, cid: str, **body: Any) -> httpx.Response:
    return http.post(f"/customers/{cid}/credits/ledger_entry", json=body)


def incr(http: httpx.Client, cid: str, amount: Any = 100, **body: Any) -> dict[str, Any]:
    return ok(entry(http, cid, entry_type="increment", amount=amount, **body), 201)


def decr(http: httpx.Client, cid: str, amount: Any, **body: Any) -> dict[str, Any]:
    return ok(entry(http, cid, entry_type="decrement", amount=amount, **body), 201)


def purchase(
    http: httpx.Client, cid: str, amount: Any = 100, cost: str = "0.20", **settings: Any
) -> dict[str, Any]:
    extra = {
        k: settings.pop(k)
        for k in list(settings)
        if k in ("effective_date", "expiry_date", "currency", "metadata")
    }
    inv = {"auto_collection": False}
    if "custom_due_date" not in settings:
        inv["net_terms"] = 0
    inv.update(settings)
    return incr(http, cid, amount, per_unit_cost_basis=cost, invoice_settings=inv, **extra)


def the_invoice(e: dict[str, Any]) -> dict[str, Any]:
    assert e["created_invoices"] is not None and len(e["created_invoices"]) == 1, e
    return e["created_invoices"][0]


def blocks(http: httpx.Client, cid: str, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("limit", 100)
    page = ok(http.get(f"/customers/{cid}/credits", params=params), 200)
    return page["data"]


def block(http: httpx.Client, bid: str) -> dict[str, Any]:
    return ok(http.get(f"/credit_blocks/{bid}"), 200)


def ledger(http: httpx.Client, cid: str, **params: Any) -> list[dict[str, Any]]:
    """Entries in ascending sequence order."""
    params.setdefault("limit", 100)
    page = ok(http.get(f"/customers/{cid}/credits/ledger", params=params), 200)
    return sorted(page["data"], key=lambda e: (e["currency"], e["ledger_sequence_number"]))


def invoice(http: httpx.Client, iid: str) -> dict[str, Any]:
    return ok(http.get(f"/invoices/{iid}"), 200)


def invoices(http: httpx.Client, cid: str, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("limit", 100)
    params["customer_id"] = cid
    return ok(http.get("/invoices", params=params), 200)["data"]


def top_up(
    http: httpx.Client,
    cid: str,
    *,
    currency: str = "credits",
    threshold: str = "10",
    amount: str = "100",
    cost: str = "1.00",
    net_terms: int = 0,
    **kw: Any,
) -> httpx.Response:
    settings = {"auto_collection": False, "net_terms": net_terms}
    settings.update(kw.pop("invoice_settings", {}))
    body = {
        "currency": currency,
        "threshold": threshold,
        "amount": amount,
        "per_unit_cost_basis": cost,
        "invoice_settings": settings,
        **kw,
    }
    return http.post(f"/customers/{cid}/credits/top_ups", json=body)


def top_ups(http: httpx.Client, cid: str) -> list[dict[str, Any]]:
    return ok(http.get(f"/customers/{cid}/credits/top_ups", params={"limit": 100}), 200)["data"]


def top_up_increments(http: httpx.Client, cid: str) -> list[dict[str, Any]]:
    return [
        e
        for e in ledger(http, cid)
        if e["entry_type"] == "increment" and e["description"] == "Top-up"
    ]


def add_months(dt: datetime, months: int) -> datetime:
    y, m = divmod(dt.month - 1 + months, 12)
    y, m = dt.year + y, m + 1
    day = min(dt.day, calendar.monthrange(y, m)[1])
    return dt.replace(year=y, month=m, day=day)


def mark_paid(http: httpx.Client, iid: str, date: str = "2024-03-05", **kw: Any) -> httpx.Response:
    return http.post(f"/invoices/{iid}/mark_paid", json={"payment_received_date": date, **kw})


def void_invoice(http: httpx.Client, iid: str) -> httpx.Response:
    return http.post(f"/invoices/{iid}/void")


# =========================================================================== R-INV-1 totals


@pytest.mark.parametrize(
    ("amount", "cost", "total"),
    [
        (100, "0.20", "20.00"),
        (1, "0.125", "0.13"),  # half-up, not banker's (0.12)
        (1, "0.005", "0.01"),
        (3, "0.3333", "1.00"),  # 0.9999 → 1.00
        (7, "1.115", "7.81"),  # 7.805 → 7.81
        (2.5, "0.10", "0.25"),
    ],
)
def test_r_inv_1_total_is_amount_times_cost_basis_round_half_up_two_decimals(
    http: httpx.Client, amount: Any, cost: str, total: str
) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], amount, cost))
    assert inv["total"] == total
    assert inv["subtotal"] == total
    assert inv["amount_due"] == total
    li = inv["line_items"][0]
    assert li["quantity"] == amount
    assert li["amount"] == total and li["subtotal"] == total and li["adjusted_subtotal"] == total
    assert li["price"]["unit_config"]["unit_amount"] == cost


def test_r_inv_1_jpy_rounds_to_zero_decimals(http: httpx.Client) -> None:
    cus = customer(http, currency="JPY")
    inv = the_invoice(purchase(http, cus["id"], 3, "0.5"))  # 1.5 JPY → 2
    assert inv["currency"] == "JPY"
    assert Decimal(inv["total"]) == Decimal("2")
    assert Decimal(inv["subtotal"]) == Decimal("2")
    assert Decimal(inv["amount_due"]) == Decimal("2")
    assert Decimal(inv["line_items"][0]["amount"]) == Decimal("2")


def test_r_inv_1_jpy_half_up_below_half_rounds_down(http: httpx.Client) -> None:
    cus = customer(http, currency="JPY")
    inv = the_invoice(purchase(http, cus["id"], 10, "12.34"))  # 123.4 → 123
    assert Decimal(inv["total"]) == Decimal("123")


def test_r_inv_1_kwd_rounds_to_three_decimals(http: httpx.Client) -> None:
    cus = customer(http, currency="KWD")
    inv = the_invoice(purchase(http, cus["id"], 1, "1.2345"))  # 1.2345 → 1.235
    assert Decimal(inv["total"]) == Decimal("1.235")


def test_r_inv_1_one_invoice_one_line_item_per_purchase(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 40, "0.50")
    inv = the_invoice(e)
    assert len(inv["line_items"]) == 1
    assert [i["id"] for i in invoices(http, cus["id"])] == [inv["id"]]


def test_r_inc_3_invoice_settings_without_cost_basis_is_validation_error(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    r = entry(
        http,
        cus["id"],
        entry_type="increment",
        amount=10,
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )
    err(r, 400, VALIDATION)


def test_r_inc_3_both_net_terms_and_custom_due_date_is_validation_error(http: httpx.Client) -> None:
    cus = customer(http)
    r = entry(
        http,
        cus["id"],
        entry_type="increment",
        amount=10,
        per_unit_cost_basis="1",
        invoice_settings={
            "auto_collection": False,
            "net_terms": 3,
            "custom_due_date": "2030-01-01",
        },
    )
    err(r, 400, VALIDATION)


def test_r_inc_3_neither_net_terms_nor_custom_due_date_is_validation_error(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    r = entry(
        http,
        cus["id"],
        entry_type="increment",
        amount=10,
        per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False},
    )
    err(r, 400, VALIDATION)


def test_r_inc_3_cost_basis_without_invoice_settings_creates_no_invoice(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 10, per_unit_cost_basis="2.00")
    assert e["created_invoices"] is None
    assert (
        invoices(http, cus["id"], **{"status[]": ["draft", "issued", "paid", "synced", "void"]})
        == []
    )


def test_r_cur_5_purchase_requires_customer_currency(http: httpx.Client, server: Server) -> None:
    cus = customer(http, currency=None)
    before = server.snapshot()
    r = entry(
        http,
        cus["id"],
        entry_type="increment",
        amount=10,
        per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )
    err(r, 400, CONSTRAINT)
    assert server.snapshot() == before


def test_r_cur_5_custom_unit_ledger_invoices_in_customer_currency(http: httpx.Client) -> None:
    cus = customer(http, currency="EUR")
    e = purchase(http, cus["id"], 10, "1.50", currency="tokens")
    assert e["currency"] == "tokens"
    inv = the_invoice(e)
    assert inv["currency"] == "EUR"
    assert inv["total"] == "15.00"


# =========================================================================== R-INV-2 / R-INV-3


def test_r_inv_2_invoice_date_defaults_to_block_effective_date(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], effective_date="2024-03-01T10:30:00Z")
    inv = the_invoice(e)
    assert inv["invoice_date"] == "2024-03-01T10:30:00Z"
    b = block(http, e["credit_block"]["id"])
    assert same_instant(inv["invoice_date"], b["effective_date"])


def test_r_inv_2_invoice_date_defaults_to_future_effective_date(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], effective_date="2030-06-01T00:00:00Z")
    assert the_invoice(e)["invoice_date"] == "2030-06-01T00:00:00Z"


def test_r_inv_2_invoice_date_default_is_now_when_effective_date_omitted(
    http: httpx.Client,
) -> None:
    cus = customer(http)
    before = datetime.now(UTC).replace(microsecond=0)
    e = purchase(http, cus["id"])
    after = datetime.now(UTC)
    inv = the_invoice(e)
    b = block(http, e["credit_block"]["id"])
    assert same_instant(inv["invoice_date"], b["effective_date"])
    assert before - timedelta(seconds=1) <= ts(inv["invoice_date"]) <= after


def test_r_inv_2_explicit_invoice_date_wins(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(
        http, cus["id"], effective_date="2024-03-01T00:00:00Z", invoice_date="2024-02-15T12:00:00Z"
    )
    assert the_invoice(e)["invoice_date"] == "2024-02-15T12:00:00Z"


def test_r_inv_2_date_only_invoice_date_is_midnight_in_customer_timezone(
    http: httpx.Client,
) -> None:
    cus = customer(http, tz="Asia/Tokyo")
    e = purchase(http, cus["id"], invoice_date="2024-05-10")
    assert the_invoice(e)["invoice_date"] == "2024-05-09T15:00:00Z"


def test_r_tz_1_date_only_effective_date_gives_invoice_date_in_customer_timezone(
    http: httpx.Client,
) -> None:
    cus = customer(http, tz="America/Los_Angeles")
    e = purchase(http, cus["id"], effective_date="2024-03-01")
    assert the_invoice(e)["invoice_date"] == "2024-03-01T08:00:00Z"
    assert block(http, e["credit_block"]["id"])["effective_date"] == "2024-03-01T08:00:00Z"


def test_r_inv_3_due_date_is_invoice_date_plus_net_terms_days(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z", net_terms=30)
    inv = the_invoice(e)
    assert inv["due_date"] == "2024-03-31T00:00:00Z"


def test_r_inv_3_net_terms_zero_is_due_on_invoice_date(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T09:00:00Z", net_terms=0))
    assert inv["due_date"] == inv["invoice_date"]


def test_r_inv_3_net_terms_counted_on_local_dates_across_dst(http: httpx.Client) -> None:
    # LA: 2024-03-01 00:00 PST = 08:00Z; +30 local days = 2024-03-31 00:00 PDT = 07:00Z.
    cus = customer(http, tz="America/Los_Angeles")
    inv = the_invoice(purchase(http, cus["id"], invoice_date="2024-03-01", net_terms=30))
    assert inv["invoice_date"] == "2024-03-01T08:00:00Z"
    assert inv["due_date"] == "2024-03-31T07:00:00Z"


def test_r_inv_3_custom_due_date_used_as_due_date(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(
        purchase(
            http, cus["id"], effective_date="2024-03-01T00:00:00Z", custom_due_date="2024-04-15"
        )
    )
    assert inv["due_date"] == "2024-04-15T00:00:00Z"


def test_r_inv_3_custom_due_date_date_only_in_customer_timezone(http: httpx.Client) -> None:
    cus = customer(http, tz="Europe/Berlin")
    inv = the_invoice(
        purchase(
            http, cus["id"], effective_date="2024-03-01T00:00:00Z", custom_due_date="2024-04-15"
        )
    )
    assert inv["due_date"] == "2024-04-14T22:00:00Z"


def test_custom_due_date_before_invoice_date_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    r = entry(
        http,
        cus["id"],
        entry_type="increment",
        amount=10,
        per_unit_cost_basis="1",
        effective_date="2024-03-10T00:00:00Z",
        invoice_settings={"auto_collection": False, "custom_due_date": "2024-03-01"},
    )
    err(r, 400)


def test_net_terms_negative_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    r = entry(
        http,
        cus["id"],
        entry_type="increment",
        amount=10,
        per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": -1},
    )
    err(r, 400)


# =========================================================================== R-INV-4 table


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


# =========================================================================== R-INV-5 / 6 / 7


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


# =========================================================================== §3.7 invoice object


INVOICE_NULL_FIELDS = (
    "eligible_to_issue_at",
    "hosted_invoice_url",
    "invoice_pdf",
    "issue_failed_at",
    "maximum",
    "maximum_amount",
    "minimum",
    "minimum_amount",
    "payment_failed_at",
    "payment_started_at",
    "scheduled_issue_at",
    "subscription",
    "sync_failed_at",
)


def test_s3_7_invoice_fixed_field_values(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20", effective_date="2024-03-01T00:00:00Z")
    inv = invoice(http, the_invoice(e)["id"])
    assert inv["invoice_source"] == "one_off"
    assert inv["currency"] == "USD"
    assert inv["customer"] == {"id": cus["id"], "external_customer_id": cus["external_customer_id"]}
    assert inv["metadata"] == {}
    for k in ("credit_notes", "customer_balance_transactions", "discounts", "payment_attempts"):
        assert inv[k] == [], k
    assert "discount" in inv and inv["discount"] is None
    assert inv["hidden_line_item_count"] == 0
    assert inv["will_auto_issue"] is False
    for k in INVOICE_NULL_FIELDS:
        assert k in inv and inv[k] is None, k
    assert isinstance(inv["invoice_number"], str) and inv["invoice_number"]


def test_s3_7_issued_at_equals_created_at(http: httpx.Client) -> None:
    cus = customer(http)
    inv = invoice(http, the_invoice(purchase(http, cus["id"]))["id"])
    assert inv["issued_at"] is not None
    assert same_instant(inv["issued_at"], inv["created_at"])


def test_s3_7_issued_at_equals_created_at_for_paid_invoice(http: httpx.Client) -> None:
    cus = customer(http)
    inv = invoice(http, the_invoice(purchase(http, cus["id"], mark_as_paid=True))["id"])
    assert same_instant(inv["issued_at"], inv["created_at"])


def test_s3_7_invoice_numbers_unique(http: httpx.Client) -> None:
    cus = customer(http)
    nums = {the_invoice(purchase(http, cus["id"], 1, "1"))["invoice_number"] for _ in range(3)}
    assert len(nums) == 3


def test_s3_7_addresses_and_tax_id_copied_from_customer(http: httpx.Client) -> None:
    addr = {
        "city": "Paris",
        "country": "FR",
        "line1": "1 rue",
        "line2": None,
        "postal_code": "75001",
        "state": None,
    }
    tax = {"country": "FR", "type": "eu_vat", "value": "FR123"}
    cus = customer(http, billing_address=addr, shipping_address=addr, tax_id=tax)
    inv = the_invoice(purchase(http, cus["id"]))
    assert inv["billing_address"] == addr
    assert inv["shipping_address"] == addr
    assert inv["customer_tax_id"] == tax


def test_s3_7_addresses_null_when_customer_has_none(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    assert (
        inv["billing_address"] is None
        and inv["shipping_address"] is None
        and inv["customer_tax_id"] is None
    )


def test_s3_7_line_item_fields(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], 100, "0.20", effective_date="2024-03-01T00:00:00Z"))
    li = inv["line_items"][0]
    assert isinstance(li["id"], str) and li["id"]
    assert li["name"] == "Credits"
    assert li["quantity"] == 100
    assert li["subtotal"] == li["adjusted_subtotal"] == li["amount"] == "20.00"
    assert li["credits_applied"] == "0.00"
    assert li["partially_invoiced_amount"] == "0.00"
    assert li["start_date"] == li["end_date"] == inv["invoice_date"] == "2024-03-01T00:00:00Z"
    assert li["adjustments"] == [] and li["sub_line_items"] == [] and li["tax_amounts"] == []
    assert li["filter"] is None and li["grouping"] is None
    assert "usage_customer_ids" in li and li["usage_customer_ids"] is None


def test_s3_7_synthetic_price_fields(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], 100, "0.20"))
    p = inv["line_items"][0]["price"]
    assert isinstance(p["id"], str) and p["id"]
    assert p["name"] == "Credits"
    assert p["model_type"] == "unit"
    assert p["price_type"] == "fixed_price"
    assert p["cadence"] == "one_time"
    assert p["billing_mode"] == "in_advance"
    assert p["currency"] == "USD"
    assert isinstance(p["created_at"], str)
    assert isinstance(p["item"]["id"], str) and p["item"]["name"] == "Credits"
    assert p["unit_config"] == {"unit_amount": "0.20"}
    assert p["billing_cycle_configuration"] == {"duration": 1, "duration_unit": "month"}
    assert p["metadata"] == {}
    assert p["fixed_price_quantity"] == 100
    for k in (
        "billable_metric",
        "conversion_rate",
        "credit_allocation",
        "discount",
        "external_price_id",
        "invoice_grouping_key",
        "invoicing_cycle_configuration",
        "maximum",
        "maximum_amount",
        "minimum",
        "minimum_amount",
        "plan_phase_order",
        "replaces_price_id",
        "composite_price_filters",
        "conversion_rate_config",
        "dimensional_price_configuration",
        "license_type",
    ):
        assert k in p and p[k] is None, k


def test_s3_7_invoice_parses_with_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 100, "0.20", memo="m")
    sdk = server.client(_strict_response_validation=True)
    inv = sdk.invoices.fetch(the_invoice(e)["id"])
    assert inv.status == "issued" and inv.total == "20.00" and inv.invoice_source == "one_off"
    page = sdk.invoices.list(customer_id=cus["id"])
    assert [i.id for i in page.data] == [inv.id]
    paid = sdk.invoices.mark_paid(inv.id, payment_received_date="2024-03-05")
    assert paid.status == "paid"


def test_s3_7_invoice_embedded_in_ledger_entry_reflects_current_state(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    iid = the_invoice(e)["id"]
    ok(mark_paid(http, iid), 200)
    listed = ledger(http, cus["id"], entry_type="increment")[0]
    assert listed["created_invoices"][0]["id"] == iid
    assert listed["created_invoices"][0]["status"] == "paid"


# =========================================================================== E24 list


def test_e24_default_statuses_exclude_void(http: httpx.Client) -> None:
    cus = customer(http)
    issued = the_invoice(purchase(http, cus["id"]))["id"]
    paid = the_invoice(purchase(http, cus["id"], mark_as_paid=True))["id"]
    voided = the_invoice(purchase(http, cus["id"]))["id"]
    ok(void_invoice(http, voided), 200)
    ids = {i["id"] for i in invoices(http, cus["id"])}
    assert ids == {issued, paid}


def test_e24_status_filter_void(http: httpx.Client) -> None:
    cus = customer(http)
    the_invoice(purchase(http, cus["id"]))
    voided = the_invoice(purchase(http, cus["id"]))["id"]
    ok(void_invoice(http, voided), 200)
    assert [i["id"] for i in invoices(http, cus["id"], **{"status[]": ["void"]})] == [voided]


def test_e24_status_filter_multiple(http: httpx.Client) -> None:
    cus = customer(http)
    issued = the_invoice(purchase(http, cus["id"]))["id"]
    paid = the_invoice(purchase(http, cus["id"], mark_as_paid=True))["id"]
    voided = the_invoice(purchase(http, cus["id"]))["id"]
    ok(void_invoice(http, voided), 200)
    got = {i["id"] for i in invoices(http, cus["id"], **{"status[]": ["paid", "void"]})}
    assert got == {paid, voided}
    assert [i["id"] for i in invoices(http, cus["id"], **{"status[]": ["issued"]})] == [issued]
    assert invoices(http, cus["id"], **{"status[]": ["draft"]}) == []


def test_e24_ordered_by_invoice_date_desc(http: httpx.Client) -> None:
    cus = customer(http)
    a = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z"))["id"]
    b = the_invoice(purchase(http, cus["id"], effective_date="2024-05-01T00:00:00Z"))["id"]
    c = the_invoice(purchase(http, cus["id"], effective_date="2024-04-01T00:00:00Z"))["id"]
    assert [i["id"] for i in invoices(http, cus["id"])] == [b, c, a]


def test_e24_ties_on_invoice_date_newest_created_first(http: httpx.Client) -> None:
    cus = customer(http)
    a = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z"))["id"]
    time.sleep(0.01)
    b = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z"))["id"]
    assert [i["id"] for i in invoices(http, cus["id"])] == [b, a]


def test_e24_external_customer_id_filter(http: httpx.Client) -> None:
    cus = customer(http)
    other = customer(http)
    mine = the_invoice(purchase(http, cus["id"]))["id"]
    the_invoice(purchase(http, other["id"]))
    data = ok(
        http.get("/invoices", params={"external_customer_id": cus["external_customer_id"]}), 200
    )["data"]
    assert [i["id"] for i in data] == [mine]


def test_e24_invoice_date_filters(http: httpx.Client) -> None:
    cus = customer(http)
    a = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z"))["id"]
    b = the_invoice(purchase(http, cus["id"], effective_date="2024-05-01T00:00:00Z"))["id"]
    got = invoices(http, cus["id"], **{"invoice_date[gte]": "2024-04-01T00:00:00Z"})
    assert [i["id"] for i in got] == [b]
    got = invoices(http, cus["id"], **{"invoice_date[lt]": "2024-05-01T00:00:00Z"})
    assert [i["id"] for i in got] == [a]


def test_e24_pagination(http: httpx.Client) -> None:
    cus = customer(http)
    ids = [
        the_invoice(purchase(http, cus["id"], effective_date=f"2024-0{m}-01T00:00:00Z"))["id"]
        for m in (1, 2, 3)
    ]
    p1 = ok(http.get("/invoices", params={"customer_id": cus["id"], "limit": 2}), 200)
    assert [i["id"] for i in p1["data"]] == [ids[2], ids[1]]
    assert p1["pagination_metadata"]["has_more"] is True
    p2 = ok(
        http.get(
            "/invoices",
            params={
                "customer_id": cus["id"],
                "limit": 2,
                "cursor": p1["pagination_metadata"]["next_cursor"],
            },
        ),
        200,
    )
    assert [i["id"] for i in p2["data"]] == [ids[0]]
    assert p2["pagination_metadata"] == {"has_more": False, "next_cursor": None}


def test_e25_unknown_invoice_404(http: httpx.Client) -> None:
    err(http.get("/invoices/NoSuchInvoice000"), 404, NOT_FOUND)


# =========================================================================== §2.4 / §3.6 top-ups


def test_s3_6_top_up_create_shape(http: httpx.Client) -> None:
    cus = customer(http)
    r = top_up(
        http,
        cus["id"],
        threshold="5.50",
        amount="100.0",
        cost="0.20",
        net_terms=7,
        invoice_settings={"memo": "auto", "require_successful_payment": False},
        expires_after=30,
        expires_after_unit="day",
    )
    tu = ok(r, 201)
    assert isinstance(tu["id"], str) and tu["id"]
    assert tu["currency"] == "credits"
    assert tu["amount"] == "100.0"
    assert tu["threshold"] == "5.50"
    assert tu["per_unit_cost_basis"] == "0.20"
    assert tu["invoice_settings"]["auto_collection"] is False
    assert tu["invoice_settings"]["net_terms"] == 7
    assert tu["invoice_settings"]["memo"] == "auto"
    assert tu["invoice_settings"]["require_successful_payment"] is False
    assert tu["expires_after"] == 30
    assert tu["expires_after_unit"] == "day"
    assert "active_from" not in tu


def test_s3_6_top_up_without_expiry_has_null_expiry_fields(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="0"), 201)
    assert tu["expires_after"] is None and tu["expires_after_unit"] is None


def test_s3_6_top_up_parses_with_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    sdk = server.client(_strict_response_validation=True)
    tu = sdk.customers.credits.top_ups.create(
        cus["id"],
        amount="50",
        currency="credits",
        invoice_settings={"auto_collection": True, "net_terms": 3},
        per_unit_cost_basis="1.00",
        threshold="1",
    )
    assert tu.amount == "50"
    listed = sdk.customers.credits.top_ups.list(cus["id"])
    assert [t.id for t in listed.data] == [tu.id]


def test_r_top_6_requires_customer_currency(http: httpx.Client) -> None:
    cus = customer(http, currency=None)
    err(top_up(http, cus["id"]), 400, CONSTRAINT)
    assert top_ups(http, cus["id"]) == []


def test_r_top_6_active_from_more_than_10_days_past_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    af = iso(datetime.now(UTC) - timedelta(days=11))
    err(top_up(http, cus["id"], active_from=af), 400)
    assert top_ups(http, cus["id"]) == []


def test_r_top_6_active_from_9_days_past_accepted(http: httpx.Client) -> None:
    cus = customer(http)
    af = iso(datetime.now(UTC) - timedelta(days=9))
    ok(top_up(http, cus["id"], threshold="0", active_from=af), 201)


def test_r_top_6_expires_after_without_unit_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    err(top_up(http, cus["id"], expires_after=3), 400)
    err(top_up(http, cus["id"], expires_after_unit="day"), 400)
    assert top_ups(http, cus["id"]) == []


def test_e14_amount_must_be_positive(http: httpx.Client) -> None:
    cus = customer(http)
    err(top_up(http, cus["id"], amount="0"), 400)


def test_e14_negative_threshold_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    err(top_up(http, cus["id"], threshold="-1"), 400)


def test_e14_missing_invoice_settings_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    r = http.post(
        f"/customers/{cus['id']}/credits/top_ups",
        json={"currency": "credits", "threshold": "1", "amount": "10", "per_unit_cost_basis": "1"},
    )
    err(r, 400, VALIDATION)


def test_e15_create_by_external_id(http: httpx.Client) -> None:
    cus = customer(http)
    r = http.post(
        f"/customers/external_customer_id/{cus['external_customer_id']}/credits/top_ups",
        json={
            "currency": "credits",
            "threshold": "0",
            "amount": "10",
            "per_unit_cost_basis": "1",
            "invoice_settings": {"auto_collection": False, "net_terms": 0},
        },
    )
    tu = ok(r, 201)
    assert [t["id"] for t in top_ups(http, cus["id"])] == [tu["id"]]
    listed = ok(
        http.get(f"/customers/external_customer_id/{cus['external_customer_id']}/credits/top_ups"),
        200,
    )
    assert [t["id"] for t in listed["data"]] == [tu["id"]]


def test_r_top_1_replacement_deactivates_old(http: httpx.Client) -> None:
    cus = customer(http)
    old = ok(top_up(http, cus["id"], threshold="0"), 201)
    new = ok(top_up(http, cus["id"], threshold="0", amount="200"), 201)
    assert new["id"] != old["id"]
    assert [t["id"] for t in top_ups(http, cus["id"])] == [new["id"]]
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{old['id']}"), 404, NOT_FOUND)


def test_e16_lists_one_per_currency_newest_first(http: httpx.Client) -> None:
    cus = customer(http)
    a = ok(top_up(http, cus["id"], currency="credits", threshold="0"), 201)
    time.sleep(0.01)
    b = ok(top_up(http, cus["id"], currency="tokens", threshold="0"), 201)
    assert [t["id"] for t in top_ups(http, cus["id"])] == [b["id"], a["id"]]


def test_e18_delete_then_404(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="0"), 201)
    r = http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}")
    assert r.status_code == 204
    assert top_ups(http, cus["id"]) == []
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{tu['id']}"), 404, NOT_FOUND)


def test_e18_delete_other_customers_top_up_404(http: httpx.Client) -> None:
    a = customer(http)
    b = customer(http)
    tu = ok(top_up(http, a["id"], threshold="0"), 201)
    err(http.delete(f"/customers/{b['id']}/credits/top_ups/{tu['id']}"), 404, NOT_FOUND)
    assert [t["id"] for t in top_ups(http, a["id"])] == [tu["id"]]


def test_e19_delete_by_external_id(http: httpx.Client) -> None:
    cus = customer(http)
    tu = ok(top_up(http, cus["id"], threshold="0"), 201)
    r = http.delete(
        f"/customers/external_customer_id/{cus['external_customer_id']}/credits/top_ups/{tu['id']}"
    )
    assert r.status_code == 204
    assert top_ups(http, cus["id"]) == []


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


def test_r_top_1_per_currency_independent(http: httpx.Client) -> None:
    cus = customer(http)
    a = ok(top_up(http, cus["id"], currency="credits", threshold="0"), 201)
    b = ok(top_up(http, cus["id"], currency="tokens", threshold="0"), 201)
    c = ok(top_up(http, cus["id"], currency="tokens", threshold="0", amount="5"), 201)
    assert {t["id"] for t in top_ups(http, cus["id"])} == {a["id"], c["id"]}
    err(http.delete(f"/customers/{cus['id']}/credits/top_ups/{b['id']}"), 404)


# =========================================================================== §2.2 E8 / §3.2 blocks


def test_s3_2_block_shape(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(
        http,
        cus["id"],
        100,
        per_unit_cost_basis="0.20",
        effective_date="2024-03-01T00:00:00Z",
        expiry_date="2030-01-01T00:00:00Z",
        metadata={"k": "v"},
        filters=[{"field": "item_id", "operator": "includes", "values": ["i1"]}],
    )
    b = block(http, e["credit_block"]["id"])
    expected = {
        "id": e["credit_block"]["id"],
        "balance": 100,
        "maximum_initial_balance": 100,
        "effective_date": "2024-03-01T00:00:00Z",
        "expiry_date": "2030-01-01T00:00:00Z",
        "per_unit_cost_basis": "0.20",
        "filters": [{"field": "item_id", "operator": "includes", "values": ["i1"]}],
        "metadata": {"k": "v"},
        "status": "active",
        "credit_block_source": "manual",
        "credit_allocation": None,
        "credit_commitment": None,
    }
    for k, v in expected.items():
        assert k in b and b[k] == v, (k, b.get(k))


def test_s3_2_block_defaults(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 7)
    b = block(http, e["credit_block"]["id"])
    assert b["expiry_date"] is None
    assert b["per_unit_cost_basis"] is None
    assert b["filters"] == [] and b["metadata"] == {}
    assert b["effective_date"] is not None


def test_e20_list_item_equals_fetch(http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 10, per_unit_cost_basis="1.5")
    (listed,) = blocks(http, cus["id"])
    assert listed == block(http, e["credit_block"]["id"])


def test_e20_unknown_block_404(http: httpx.Client) -> None:
    err(http.get("/credit_blocks/NoSuchBlock00000"), 404, NOT_FOUND)


def test_e20_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    e = incr(http, cus["id"], 10, per_unit_cost_basis="1.5")
    sdk = server.client(_strict_response_validation=True)
    b = sdk.credit_blocks.retrieve(e["credit_block"]["id"])
    assert b.balance == 10 and b.per_unit_cost_basis == "1.5"
    page = sdk.customers.credits.list(cus["id"])
    assert [x.id for x in page.data] == [b.id]


def test_e8_default_currency_is_credits(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)
    incr(http, cus["id"], 20, currency="tokens")
    assert [b["id"] for b in blocks(http, cus["id"])] == [a["credit_block"]["id"]]
    assert [b["balance"] for b in blocks(http, cus["id"], currency="tokens")] == [20]


def test_e8_mismatching_real_currency_is_empty_page(http: httpx.Client) -> None:
    cus = customer(http, currency="USD")
    incr(http, cus["id"], 10, currency="USD")
    assert blocks(http, cus["id"], currency="EUR") == []
    assert [b["balance"] for b in blocks(http, cus["id"], currency="usd")] == [10]


def test_r_cus_4_new_customer_empty(http: httpx.Client) -> None:
    cus = customer(http)
    page = ok(http.get(f"/customers/{cus['id']}/credits"), 200)
    assert page == {"data": [], "pagination_metadata": {"has_more": False, "next_cursor": None}}


def test_r_list_1_depleted_block_only_with_include_all(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10, expiry_date="2030-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, cus["id"], 50)["credit_block"]["id"]
    decr(http, cus["id"], 10)
    assert [x["id"] for x in blocks(http, cus["id"])] == [b]
    assert [x["id"] for x in blocks(http, cus["id"], include_all_blocks="true")] == [a, b]
    assert [x["id"] for x in blocks(http, cus["id"], include_all_blocks="false")] == [b]


def test_r_list_1_expired_block_only_with_include_all(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(
        http,
        cus["id"],
        10,
        effective_date="2024-01-01T00:00:00Z",
        expiry_date="2024-02-01T00:00:00Z",
    )["credit_block"]["id"]
    assert blocks(http, cus["id"]) == []
    all_ = blocks(http, cus["id"], include_all_blocks="true")
    assert [x["id"] for x in all_] == [a] and all_[0]["balance"] == 0


def test_r_list_1_fully_voided_block_only_with_include_all(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)["credit_block"]["id"]
    ok(entry(http, cus["id"], entry_type="void", block_id=a, amount=10), 201)
    assert blocks(http, cus["id"]) == []
    assert [x["id"] for x in blocks(http, cus["id"], include_all_blocks="true")] == [a]


def test_r_list_1_negative_block_listed_by_default(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)["credit_block"]["id"]
    decr(http, cus["id"], 25)
    (x,) = blocks(http, cus["id"])
    assert x["id"] == a and x["balance"] == -15


def test_r_list_1_future_block_listed_by_default(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10, effective_date="2031-01-01T00:00:00Z")["credit_block"]["id"]
    assert [x["id"] for x in blocks(http, cus["id"])] == [a]


def test_e8_order_is_drawdown_order(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]

    def mk(**kw: Any) -> str:
        return incr(http, c, 10, **kw)["credit_block"]["id"]

    b1 = mk(per_unit_cost_basis="0.10")  # never expires → last
    b2 = mk(
        per_unit_cost_basis="0.10",
        expiry_date="2030-04-01T00:00:00Z",
        effective_date="2025-01-01T00:00:00Z",
    )
    b3 = mk(per_unit_cost_basis="0.00", expiry_date="2030-04-01T00:00:00Z")
    b4 = mk(per_unit_cost_basis="5", expiry_date="2030-01-01T00:00:00Z")
    b5 = mk(
        per_unit_cost_basis="0.10",
        expiry_date="2030-04-01T00:00:00Z",
        effective_date="2024-01-01T00:00:00Z",
    )
    b6 = mk(
        per_unit_cost_basis="0.10",
        expiry_date="2030-04-01T00:00:00Z",
        effective_date="2025-01-01T00:00:00Z",
    )
    b7 = mk(
        expiry_date="2030-04-01T00:00:00Z", effective_date="2024-06-01T00:00:00Z"
    )  # null cost = 0
    b8 = mk(per_unit_cost_basis="0.9")  # never expires, costlier than b1
    expected = [b4, b7, b3, b5, b2, b6, b1, b8]
    assert [x["id"] for x in blocks(http, c)] == expected
    # page through with limit 3: same order
    got: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = ok(http.get(f"/customers/{c}/credits", params=params), 200)
        got += [x["id"] for x in page["data"]]
        if not page["pagination_metadata"]["has_more"]:
            assert page["pagination_metadata"]["next_cursor"] is None
            break
        params["cursor"] = page["pagination_metadata"]["next_cursor"]
    assert got == expected


def test_e8_cost_basis_order_is_numeric_not_lexical(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 1, per_unit_cost_basis="10")["credit_block"]["id"]
    b = incr(http, cus["id"], 1, per_unit_cost_basis="9")["credit_block"]["id"]
    assert [x["id"] for x in blocks(http, cus["id"])] == [b, a]


def test_e8_effective_date_filters(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    a = incr(http, c, 1, effective_date="2024-01-01T00:00:00Z")["credit_block"]["id"]
    b = incr(http, c, 1, effective_date="2024-02-01T00:00:00Z")["credit_block"]["id"]
    d = incr(http, c, 1, effective_date="2024-03-01T00:00:00Z")["credit_block"]["id"]

    def ids(**p: Any) -> set[str]:
        return {x["id"] for x in blocks(http, c, **p)}

    assert ids(**{"effective_date[gte]": "2024-02-01T00:00:00Z"}) == {b, d}
    assert ids(**{"effective_date[gt]": "2024-02-01T00:00:00Z"}) == {d}
    assert ids(**{"effective_date[lte]": "2024-02-01T00:00:00Z"}) == {a, b}
    assert ids(**{"effective_date[lt]": "2024-02-01T00:00:00Z"}) == {a}
    assert ids(
        **{
            "effective_date[gt]": "2024-01-01T00:00:00Z",
            "effective_date[lt]": "2024-03-01T00:00:00Z",
        }
    ) == {b}
    assert ids(**{"effective_date[gte]": "2024-02-01T01:00:00+01:00"}) == {b, d}


def test_e8_bad_limit_400(http: httpx.Client) -> None:
    cus = customer(http)
    err(http.get(f"/customers/{cus['id']}/credits", params={"limit": 0}), 400, VALIDATION)
    err(http.get(f"/customers/{cus['id']}/credits", params={"limit": 101}), 400, VALIDATION)


def test_e9_by_external_id(http: httpx.Client) -> None:
    cus = customer(http)
    a = incr(http, cus["id"], 10)["credit_block"]["id"]
    page = ok(
        http.get(f"/customers/external_customer_id/{cus['external_customer_id']}/credits"), 200
    )
    assert [x["id"] for x in page["data"]] == [a]


def test_e8_unknown_customer_404(http: httpx.Client) -> None:
    err(http.get("/customers/NoSuchCustomer00/credits"), 404, NOT_FOUND)


def test_r_bal_5_default_list_sum_equals_ledger_balance(http: httpx.Client) -> None:
    cus = customer(http)
    c = cus["id"]
    incr(http, c, 10, expiry_date="2030-01-01T00:00:00Z")
    incr(http, c, 40)
    incr(http, c, 5, effective_date="2031-01-01T00:00:00Z")
    incr(http, c, 7, effective_date="2024-01-01T00:00:00Z", expiry_date="2024-02-01T00:00:00Z")
    decr(http, c, 25)
    last = ledger(http, c)[-1]
    assert (
        sum(Decimal(str(b["balance"])) for b in blocks(http, c))
        == Decimal(str(last["ending_balance"]))
        == 30
    )


# =========================================================================== E21 metadata


def test_e21_metadata_merge(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1", "b": "2"})["credit_block"]["id"]
    r = http.put(f"/credit_blocks/{bid}", json={"metadata": {"b": "20", "c": "3"}})
    b = ok(r, 200)
    assert b["metadata"] == {"a": "1", "b": "20", "c": "3"}
    assert block(http, bid)["metadata"] == {"a": "1", "b": "20", "c": "3"}


def test_e21_metadata_remove_key(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1", "b": "2"})["credit_block"]["id"]
    b = ok(http.put(f"/credit_blocks/{bid}", json={"metadata": {"a": None, "zz": None}}), 200)
    assert b["metadata"] == {"b": "2"}


def test_e21_metadata_null_clears(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1", "b": "2"})["credit_block"]["id"]
    b = ok(http.put(f"/credit_blocks/{bid}", json={"metadata": None}), 200)
    assert b["metadata"] == {}
    assert block(http, bid)["metadata"] == {}


def test_e21_body_without_metadata_is_noop(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1"})["credit_block"]["id"]
    before = block(http, bid)
    b = ok(http.put(f"/credit_blocks/{bid}", json={"other": "x"}), 200)
    assert b == before


def test_e21_full_block_returned(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, per_unit_cost_basis="0.5")["credit_block"]["id"]
    b = ok(http.put(f"/credit_blocks/{bid}", json={"metadata": {"x": "y"}}), 200)
    assert b == block(http, bid)
    assert b["balance"] == 10 and b["per_unit_cost_basis"] == "0.5"


def test_r_meta_2_increment_entry_reports_live_block_metadata(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1"})["credit_block"]["id"]
    ok(http.put(f"/credit_blocks/{bid}", json={"metadata": {"b": "2"}}), 200)
    (inc,) = ledger(http, cus["id"], entry_type="increment")
    assert inc["metadata"] == {"a": "1", "b": "2"}


def test_e21_metadata_limits(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"k" * 41: "v"}}), 400)
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"k": "v" * 501}}), 400)
    assert block(http, bid)["metadata"] == {}


def test_e21_unknown_block_404(http: httpx.Client) -> None:
    err(http.put("/credit_blocks/NoSuchBlock00000", json={"metadata": {"a": "b"}}), 404, NOT_FOUND)


def test_e21_sdk_update(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10, metadata={"a": "1"})["credit_block"]["id"]
    sdk = server.client(_strict_response_validation=True)
    b = sdk.credit_blocks.update(bid, metadata={"c": "3"})
    assert b.metadata == {"a": "1", "c": "3"}


# =========================================================================== E22 deletion + replay


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


# =========================================================================== E23


def test_e23_manual_block_has_no_invoices(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    r = ok(http.get(f"/credit_blocks/{bid}/invoices"), 200)
    assert r["invoices"] == []
    assert r["block"] == block(http, bid)


def test_e23_purchased_block_lists_its_invoice(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    inv = the_invoice(e)
    r = ok(http.get(f"/credit_blocks/{e['credit_block']['id']}/invoices"), 200)
    assert r["block"] == block(http, e["credit_block"]["id"])
    (x,) = r["invoices"]
    assert x["id"] == inv["id"]
    assert x["invoice_number"] == inv["invoice_number"]
    assert x["status"] == "issued"
    assert x["customer"] == {"id": cus["id"], "external_customer_id": cus["external_customer_id"]}
    assert "subscription" in x and x["subscription"] is None


def test_e23_reflects_current_invoice_status(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    ok(mark_paid(http, the_invoice(e)["id"]), 200)
    r = ok(http.get(f"/credit_blocks/{e['credit_block']['id']}/invoices"), 200)
    assert r["invoices"][0]["status"] == "paid"


def test_e23_strict_sdk(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    sdk = server.client(_strict_response_validation=True)
    r = sdk.credit_blocks.list_invoices(e["credit_block"]["id"])
    assert r.block.id == e["credit_block"]["id"]
    assert [i.id for i in r.invoices] == [the_invoice(e)["id"]]


# =========================================================================== R-TIME-1


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


# ============================================================== SDK smoke: purchase flow


def test_sdk_purchase_created_invoices_strict(server: Server, http: httpx.Client) -> None:
    cus = customer(http)
    sdk = server.client(_strict_response_validation=True)
    e = sdk.customers.credits.ledger.create_entry(
        cus["id"],
        entry_type="increment",
        amount=100,
        per_unit_cost_basis="0.20",
        invoice_settings={"auto_collection": False, "net_terms": 10},
    )
    assert e.created_invoices is not None and e.created_invoices[0].total == "20.00"
    with pytest.raises(orb.BadRequestError):
        sdk.invoices.issue(e.created_invoices[0].id)


# =========================================================================== more edges


def test_r_inv_4_row1_wins_over_zero_total(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 10, "0", effective_date="2024-03-01T00:00:00Z", mark_as_paid=True)
    inv = the_invoice(e)
    assert inv["status"] == "paid"
    assert same_instant(inv["payment_received_at"], "2024-03-01T00:00:00Z")
    assert inv["paid_at"] is not None


def test_r_inv_1_fractional_quantity_rounding(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"], 0.333333, "3"))  # 0.999999 → 1.00
    assert inv["total"] == "1.00"
    assert inv["line_items"][0]["quantity"] == 0.333333


def test_r_inv_1_customer_currency_lowercase_normalised_on_invoice(http: httpx.Client) -> None:
    cus = customer(http, currency="gbp")
    inv = the_invoice(purchase(http, cus["id"], 10, "1"))
    assert inv["currency"] == "GBP"
    assert inv["line_items"][0]["price"]["currency"] == "GBP"


def test_r_inv_2_line_item_dates_follow_explicit_invoice_date(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(
        purchase(
            http,
            cus["id"],
            effective_date="2024-03-01T00:00:00Z",
            invoice_date="2024-02-20T00:00:00Z",
        )
    )
    li = inv["line_items"][0]
    assert li["start_date"] == li["end_date"] == "2024-02-20T00:00:00Z"


def test_r_inv_3_custom_due_date_datetime(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(
        purchase(
            http,
            cus["id"],
            effective_date="2024-03-01T00:00:00Z",
            custom_due_date="2024-03-20T12:00:00+02:00",
        )
    )
    assert inv["due_date"] == "2024-03-20T10:00:00Z"


def test_e26_invalid_payment_received_date_is_validation_error(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    err(mark_paid(http, inv["id"], "not-a-date"), 400, VALIDATION)


def test_r_del_4_voided_invoice_cannot_be_marked_paid(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"])
    assert http.delete(f"/credit_blocks/{e['credit_block']['id']}").status_code == 204
    err(mark_paid(http, the_invoice(e)["id"]), 400, CONSTRAINT)


def test_e24_amount_filters_on_total(http: httpx.Client) -> None:
    cus = customer(http)
    small = the_invoice(purchase(http, cus["id"], 10, "1"))["id"]  # 10.00
    big = the_invoice(purchase(http, cus["id"], 100, "1"))["id"]  # 100.00
    assert [i["id"] for i in invoices(http, cus["id"], **{"amount[gt]": "50"})] == [big]
    assert [i["id"] for i in invoices(http, cus["id"], **{"amount[lt]": "50"})] == [small]
    assert [i["id"] for i in invoices(http, cus["id"], amount="10.00")] == [small]


def test_e24_subscription_id_matches_nothing(http: httpx.Client) -> None:
    cus = customer(http)
    the_invoice(purchase(http, cus["id"]))
    assert invoices(http, cus["id"], subscription_id="sub_x") == []


def test_e24_due_date_filters(http: httpx.Client) -> None:
    cus = customer(http)
    a = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z", net_terms=5))[
        "id"
    ]
    b = the_invoice(purchase(http, cus["id"], effective_date="2024-03-01T00:00:00Z", net_terms=20))[
        "id"
    ]
    assert [i["id"] for i in invoices(http, cus["id"], **{"due_date[gt]": "2024-03-10"})] == [b]
    assert [i["id"] for i in invoices(http, cus["id"], **{"due_date[lt]": "2024-03-10"})] == [a]
    assert [i["id"] for i in invoices(http, cus["id"], due_date="2024-03-06")] == [a]


def test_r_cus_3_invoice_of_deleted_customer_404(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    ok(void_invoice(http, inv["id"]), 200)
    assert http.delete(f"/customers/{cus['id']}").status_code == 204
    err(http.get(f"/invoices/{inv['id']}"), 404, NOT_FOUND)
    err(mark_paid(http, inv["id"]), 404, NOT_FOUND)
    assert invoices(http, cus["id"], **{"status[]": ["void"]}) == []


def test_r_cus_3_block_of_deleted_customer_404(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 10)["credit_block"]["id"]
    assert http.delete(f"/customers/{cus['id']}").status_code == 204
    err(http.get(f"/credit_blocks/{bid}"), 404, NOT_FOUND)
    err(http.put(f"/credit_blocks/{bid}", json={"metadata": {"a": "b"}}), 404, NOT_FOUND)
    err(http.delete(f"/credit_blocks/{bid}"), 404, NOT_FOUND)
    err(http.get(f"/credit_blocks/{bid}/invoices"), 404, NOT_FOUND)


def test_r_cur_2_top_up_real_currency_mismatch_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http, currency="USD")
    err(top_up(http, cus["id"], currency="EUR"), 400, CONSTRAINT)


@pytest.mark.parametrize(
    "bad",
    [
        {"per_unit_cost_basis": "-1"},
        {"expires_after": 0, "expires_after_unit": "day"},
        {"expires_after": 2, "expires_after_unit": "week"},
        {"threshold": "abc"},
        {"invoice_settings": {"net_terms": -1}},
    ],
)
def test_e14_invalid_fields_rejected(
    http: httpx.Client, server: Server, bad: dict[str, Any]
) -> None:
    cus = customer(http)
    body: dict[str, Any] = {
        "currency": "credits",
        "threshold": "1",
        "amount": "10",
        "per_unit_cost_basis": "1",
        "invoice_settings": {"auto_collection": False, "net_terms": 0},
    }
    for k, v in bad.items():
        if k == "invoice_settings":
            body[k] = {**body[k], **v}
        else:
            body[k] = v
    err(http.post(f"/customers/{cus['id']}/credits/top_ups", json=body), 400)
    assert top_ups(http, cus["id"]) == []


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


def test_e23_top_up_block_lists_its_invoice(http: httpx.Client) -> None:
    cus = customer(http)
    ok(top_up(http, cus["id"], threshold="10"), 201)
    (t,) = top_up_increments(http, cus["id"])
    r = ok(http.get(f"/credit_blocks/{t['credit_block']['id']}/invoices"), 200)
    assert [i["id"] for i in r["invoices"]] == [the_invoice(t)["id"]]
    assert r["block"]["credit_block_source"] == "top_up"


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


def test_r_pend_2_future_block_not_drawn_and_invoice_dated_future(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 10, "1", effective_date="2031-01-01T00:00:00Z")
    assert e["entry_status"] == "pending"
    d = decr(http, cus["id"], 3)
    assert d["credit_block"]["id"] != e["credit_block"]["id"]
    assert block(http, e["credit_block"]["id"])["balance"] == 10


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


def test_e24_limit_and_cursor_validation(http: httpx.Client) -> None:
    err(http.get("/invoices", params={"limit": 101}), 400, VALIDATION)
    err(http.get("/invoices", params={"limit": 0}), 400, VALIDATION)
    err(http.get("/invoices", params={"cursor": "garbage!!"}), 400, VALIDATION)


def test_e24_default_limit_20(http: httpx.Client) -> None:
    cus = customer(http)
    for _ in range(21):
        purchase(http, cus["id"], 1, "1")
    page = ok(http.get("/invoices", params={"customer_id": cus["id"]}), 200)
    assert len(page["data"]) == 20 and page["pagination_metadata"]["has_more"] is True


def test_e27_e28_unknown_invoice_404(http: httpx.Client) -> None:
    err(http.post("/invoices/NoSuchInvoice000/void"), 404, NOT_FOUND)
    err(http.post("/invoices/NoSuchInvoice000/issue", json={}), 404, NOT_FOUND)


def test_e28_issue_on_void_is_constraint_violation(http: httpx.Client) -> None:
    cus = customer(http)
    inv = the_invoice(purchase(http, cus["id"]))
    ok(void_invoice(http, inv["id"]), 200)
    err(http.post(f"/invoices/{inv['id']}/issue", json={}), 400, CONSTRAINT)


def test_s3_7_zero_total_invoice_issued_at_equals_created_at(http: httpx.Client) -> None:
    cus = customer(http)
    inv = invoice(http, the_invoice(purchase(http, cus["id"], 5, "0"))["id"])
    assert same_instant(inv["issued_at"], inv["created_at"])


def test_r_meta_1_null_values_dropped_on_create(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 1, metadata={"a": None, "b": "x"})["credit_block"]["id"]
    assert block(http, bid)["metadata"] == {"b": "x"}


def test_e21_more_than_50_keys_rejected(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 1)["credit_block"]["id"]
    err(
        http.put(f"/credit_blocks/{bid}", json={"metadata": {f"k{i}": "v" for i in range(51)}}), 400
    )


def test_e8_invalid_query_values_400(http: httpx.Client) -> None:
    cus = customer(http)
    err(
        http.get(f"/customers/{cus['id']}/credits", params={"include_all_blocks": "maybe"}),
        400,
        VALIDATION,
    )
    err(
        http.get(f"/customers/{cus['id']}/credits", params={"effective_date[gt]": "yesterday"}),
        400,
        VALIDATION,
    )


def test_r_cur_3_custom_unit_case_sensitive_listing(http: httpx.Client) -> None:
    cus = customer(http)
    incr(http, cus["id"], 1, currency="tokens")
    assert blocks(http, cus["id"], currency="Tokens") == []


def test_e23_top_level_shape(http: httpx.Client) -> None:
    cus = customer(http)
    bid = incr(http, cus["id"], 1)["credit_block"]["id"]
    r = ok(http.get(f"/credit_blocks/{bid}/invoices"), 200)
    assert set(r) >= {"block", "invoices"}


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
