"""Black-box acceptance tests: the invoice object (§3.7) and listing invoices (E24, E25).

Written from the rules alone (docs/rules.md); every test names the rule it checks, against a
running drawdown server (both backends) over raw HTTP. Shared helpers: spec_support.py.
"""

from __future__ import annotations

import time

import httpx
from spec_support import (
    NOT_FOUND,
    VALIDATION,
    customer,
    err,
    http_fixture,  # noqa: F401 (a fixture)
    invoice,
    invoices,
    ledger,
    mark_paid,
    ok,
    purchase,
    same_instant,
    the_invoice,
    void_invoice,
)

from conftest import Server

# ============================================================== §3.7 invoice object


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


# ============================================================== E24 list


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


# ============================================================== more edges


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


def test_s3_7_zero_total_invoice_issued_at_equals_created_at(http: httpx.Client) -> None:
    cus = customer(http)
    inv = invoice(http, the_invoice(purchase(http, cus["id"], 5, "0"))["id"])
    assert same_instant(inv["issued_at"], inv["created_at"])
