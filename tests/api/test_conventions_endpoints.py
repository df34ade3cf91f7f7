"""Per-endpoint parameters, defaults and validation of docs/rules.md §2 (E1–E28) that the rule tests
do not cover, plus the §3 shapes those endpoints return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orb
import pytest
from rules_helpers import customer, increment, purchase, raw_rejected, rejected

from conftest import Server, unique

PROVIDERS = ("quickbooks", "bill.com", "stripe_charge", "stripe_invoice", "netsuite", "adyen")


# --- E1 / E5 customers -------------------------------------------------------------------------


def test_E1_additional_emails_count_the_primary_address(server: Server, client: orb.Orb) -> None:
    extra = [f"a{i}@example.com" for i in range(50)]
    assert len(customer(client, additional_emails=extra[:49]).additional_emails) == 49
    body = rejected(server, orb.RequestValidationError, "400-request-validation-errors",
                    customer, client, additional_emails=extra)  # fmt: skip
    assert body["validation_errors"][0]["field"] == "additional_emails"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_E1_every_payment_provider_is_stored_and_turns_on_auto_collection(
    client: orb.Orb, provider: Any
) -> None:
    made = customer(client, payment_provider=provider, payment_provider_id="cus_1")
    assert (made.payment_provider, made.payment_provider_id) == (provider, "cus_1")
    assert made.auto_collection is True
    assert (
        customer(client, payment_provider=provider, auto_collection=False).auto_collection is False
    )


def test_E1_addresses_tax_id_and_flags_are_echoed(server: Server, client: orb.Orb) -> None:
    address = {"city": "Oslo", "country": "NO", "line1": "Gate 1", "line2": None,
               "postal_code": "0150", "state": None}  # fmt: skip
    tax_id = {"country": "NO", "type": "no_vat", "value": "123456789MVA"}
    made = customer(client, billing_address=address, shipping_address={"city": "Bergen"},
                    tax_id=tax_id, auto_issuance=True, email_delivery=False)  # fmt: skip
    with server.http() as http:
        shown = http.get(f"/customers/{made.id}").json()
    assert shown["billing_address"] == address
    assert shown["shipping_address"] == {**dict.fromkeys(address), "city": "Bergen"}
    assert shown["tax_id"] == tax_id
    assert (shown["auto_issuance"], shown["email_delivery"]) == (True, False)


def test_E1_ignored_configuration_objects_leave_neutral_defaults(server: Server) -> None:
    ignored = {
        "accounting_sync_configuration": {"excluded": True},
        "hierarchy": {"child_customer_ids": ["x"], "parent_customer_id": "y"},
        "payment_configuration": {"payment_providers": []},
        "reporting_configuration": {"exempt": True},
        "tax_configuration": {"tax_exempt": True, "tax_provider": "avalara"},
    }
    with server.http() as http:
        made = http.post("/customers", json={"name": "I", "email": "i@example.com", **ignored})
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown["hierarchy"] == {"children": [], "parent": None}
    for key in ("accounting_sync_configuration", "payment_configuration",
                "reporting_configuration", "portal_url", "exempt_from_automated_tax",
                "default_payment_method"):  # fmt: skip
        assert shown[key] is None, key
    assert shown["automatic_tax_enabled"] is False


def test_E1_empty_timezone_is_rejected(server: Server) -> None:
    raw_rejected(server, "POST", "/customers", 400, "400-request-validation-errors",
                 json={"name": "T", "email": "t@example.com", "timezone": ""})  # fmt: skip


def test_E5_default_payment_method_id_null_is_a_no_op_any_value_is_404(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    assert client.customers.update(c.id, default_payment_method_id=None).id == c.id
    rejected(server, orb.ResourceNotFound, "404-resource-not-found",
             client.customers.update, c.id, default_payment_method_id="pm_123")  # fmt: skip


def test_E5_updatable_fields_change_and_timezone_is_ignored(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    updated = client.customers.update(
        c.id, email="new@example.com", email_delivery=False, auto_collection=True,
        auto_issuance=False, additional_emails=["b@example.com"], payment_provider="stripe_charge",
        payment_provider_id="cus_9", shipping_address={"line1": "Road 2"},
        tax_id={"country": "DE", "type": "eu_vat", "value": "DE1"},
        extra_body={"timezone": "Asia/Tokyo", "hierarchy": {"parent_customer_id": "p"}},
    )  # fmt: skip
    assert (updated.email, updated.email_delivery, updated.auto_collection) == (
        "new@example.com", False, True)  # fmt: skip
    assert (updated.auto_issuance, updated.additional_emails) == (False, ["b@example.com"])
    assert (updated.payment_provider, updated.payment_provider_id) == ("stripe_charge", "cus_9")
    assert updated.shipping_address is not None and updated.shipping_address.line1 == "Road 2"
    assert updated.tax_id is not None and updated.tax_id.value == "DE1"
    assert updated.timezone == "UTC"
    for field in ("name", "email"):
        raw_rejected(server, "PUT", f"/customers/{c.id}", 400, "400-request-validation-errors",
                     json={field: None})  # fmt: skip
    raw_rejected(server, "PUT", f"/customers/{c.id}", 400, "400-request-validation-errors",
                 json={"payment_provider": "paypal"})  # fmt: skip


# --- external ids as path segments ---------------------------------------------------------------


@pytest.mark.parametrize("shape", ["acme/42", "a b+c", "ü%2F?#"])
def test_any_external_id_works_on_every_by_external_id_endpoint(
    client: orb.Orb, shape: str
) -> None:
    ext = f"{shape}-{unique()}"
    c = client.customers.create(name="X", email="x@example.com", external_customer_id=ext,
                                currency="USD")  # fmt: skip
    credits = client.customers.credits
    assert client.customers.fetch_by_external_id(ext).id == c.id
    assert client.customers.update_by_external_id(ext, name="Y").name == "Y"
    made = credits.ledger.create_entry_by_external_id(ext, entry_type="increment", amount=5)
    assert [e.id for e in credits.ledger.list_by_external_id(ext)] == [made.id]
    assert [b.id for b in credits.list_by_external_id(ext)] == [made.credit_block.id]
    top_up = credits.top_ups.create_by_external_id(
        ext, currency="credits", threshold="1", amount="5", per_unit_cost_basis="0",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    assert [t.id for t in credits.top_ups.list_by_external_id(ext)] == [top_up.id]
    credits.top_ups.delete_by_external_id(top_up.id, external_customer_id=ext)
    assert credits.top_ups.list_by_external_id(ext).data == []


# --- E8 / E10 query parameters ---------------------------------------------------------------


def test_E8_and_E10_reject_bad_query_values(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    increment(client, c.id, 1)
    blocks, ledger = f"/customers/{c.id}/credits", f"/customers/{c.id}/credits/ledger"
    for path, query, field in (
        (blocks, "include_all_blocks=maybe", "include_all_blocks"),
        (blocks, "effective_date[gte]=soon", "effective_date[gte]"),
        (blocks, "limit=0", "limit"),
        (ledger, "entry_type=refund", "entry_type"),
        (ledger, "entry_status=done", "entry_status"),
        (ledger, "created_at[lt]=never", "created_at[lt]"),
        (ledger, "limit=1.5", "limit"),
    ):
        body = raw_rejected(server, "GET", f"{path}?{query}", 400, "400-request-validation-errors")
        assert body["validation_errors"][0]["field"] == field, query


def test_E8_effective_date_filters(client: orb.Orb) -> None:
    c = customer(client)
    early = increment(client, c.id, 1, effective_date="2024-01-01")
    late = increment(client, c.id, 2, effective_date="2024-06-01")
    credits = client.customers.credits

    def ids(**query: Any) -> list[str]:
        return [b.id for b in credits.list(c.id, **query)]

    cut = datetime(2024, 3, 1, tzinfo=UTC)
    assert ids(effective_date_gte=cut) == [late.credit_block.id]
    assert ids(effective_date_lt=cut) == [early.credit_block.id]
    assert ids(effective_date_gt=datetime(2024, 6, 1, tzinfo=UTC)) == []
    both = {early.credit_block.id, late.credit_block.id}
    assert set(ids(effective_date_lte=datetime(2024, 6, 1, tzinfo=UTC))) == both


# --- E23 / E24 / E26 invoices ------------------------------------------------------------------


def test_E23_shape_for_bought_and_free_blocks(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    bought = purchase(client, c.id, 2, "1")
    free = increment(client, c.id, 1)
    with server.http() as http:
        shown = http.get(f"/credit_blocks/{bought.credit_block.id}/invoices").json()
        empty = http.get(f"/credit_blocks/{free.credit_block.id}/invoices").json()
    assert set(shown) == {"block", "invoices"} and shown["block"]["id"] == bought.credit_block.id
    assert shown["invoices"] == [{
        "id": bought.created_invoices[0].id,
        "invoice_number": bought.created_invoices[0].invoice_number, "status": "issued",
        "customer": {"id": c.id, "external_customer_id": c.external_customer_id},
        "subscription": None}]  # fmt: skip
    assert empty["invoices"] == []


def test_E24_accepts_every_orb_parameter(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    small = purchase(client, c.id, 2, "1").created_invoices[0]
    big = purchase(client, c.id, 30, "1").created_invoices[0]
    invoices = client.invoices

    def ids(**query: Any) -> list[str]:
        return [i.id for i in invoices.list(customer_id=c.id, **query)]

    everything = dict(is_recurring=False, date_type="invoice_date", due_date_window="1 month",
                      include_zero_quantity_line_items=True)  # fmt: skip
    assert ids(**everything) == [big.id, small.id]
    assert ids(amount="30.00") == [big.id]
    assert ids(amount_gt="2") == [big.id]
    assert ids(amount_lt="30") == [small.id]
    assert ids(subscription_id="sub_1") == []
    assert invoices.fetch(small.id, include_zero_quantity_line_items=False).id == small.id
    raw_rejected(server, "GET", "/invoices?amount[gt]=lots", 400, "400-request-validation-errors")


def test_E24_bad_dates_are_400_even_when_nothing_could_match(server: Server) -> None:
    for query in ("customer_id=nobody&invoice_date[gt]=soon",
                  "external_customer_id=nobody&due_date=soon",
                  "subscription_id=sub_1&due_date[lt]=soon"):  # fmt: skip
        raw_rejected(server, "GET", f"/invoices?{query}", 400, "400-request-validation-errors")


def test_E26_body_rules(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD", timezone="Europe/Oslo")
    invoice = purchase(client, c.id, 2, "1").created_invoices[0]
    path = f"/invoices/{invoice.id}/mark_paid"
    for body in ({}, {"payment_received_date": None}, {"payment_received_date": "someday"},
                 {"payment_received_date": 20240101}):  # fmt: skip
        raw_rejected(server, "POST", path, 400, "400-request-validation-errors", json=body)
    paid = client.invoices.mark_paid(invoice.id, payment_received_date="2030-07-01",
                                     external_id="wire-1", notes="thanks")  # fmt: skip
    assert paid.status == "paid" and paid.paid_at is not None
    assert paid.payment_received_at == datetime(2030, 6, 30, 22, tzinfo=UTC)


def test_E26_a_bad_date_is_a_validation_error_whatever_the_status(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client, currency="USD")
    invoice = purchase(client, c.id, 2, "1", mark_as_paid=True).created_invoices[0]
    bad = {"payment_received_date": "someday"}
    raw_rejected(server, "POST", f"/invoices/{invoice.id}/mark_paid", 400,
                 "400-request-validation-errors", json=bad)  # fmt: skip
