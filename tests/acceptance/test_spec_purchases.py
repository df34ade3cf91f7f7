"""Black-box acceptance tests: purchases (increments with invoice settings): invoice totals and
rounding (R-INV-1), validation (R-INC-3, R-CUR-5), invoice and due dates (R-INV-2, R-INV-3).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orb
import pytest
from spec_support import (
    CONSTRAINT,
    VALIDATION,
    block,
    customer,
    decr,
    entry,
    err,
    http_fixture,  # noqa: F401 (a fixture)
    incr,
    invoices,
    purchase,
    same_instant,
    the_invoice,
    ts,
)

from conftest import Server

# ============================================================== R-INV-1 totals


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


# ============================================================== R-INV-2 / R-INV-3


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


# ============================================================== more edges


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


def test_r_pend_2_future_block_not_drawn_and_invoice_dated_future(http: httpx.Client) -> None:
    cus = customer(http)
    e = purchase(http, cus["id"], 10, "1", effective_date="2031-01-01T00:00:00Z")
    assert e["entry_status"] == "pending"
    d = decr(http, cus["id"], 3)
    assert d["credit_block"]["id"] != e["credit_block"]["id"]
    assert block(http, e["credit_block"]["id"])["balance"] == 10
