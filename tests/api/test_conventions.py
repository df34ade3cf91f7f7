"""The wire conventions of docs/rules.md §1 (transport, status codes, errors, data formats,
metadata, null vs absent), checked through a live server with the SDK and raw HTTP.

Endpoint-specific parameters of §2 live in test_conventions_endpoints.py.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orb
import pytest
from rules_helpers import ERROR_PREFIX, customer, increment, purchase, raw_rejected, rejected

from conftest import Server

CREATED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
BOUNDARY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


# --- §1.2 transport, §1.3 status codes ------------------------------------------------------


def test_no_redirects_and_unknown_methods_are_url_not_found(server: Server) -> None:
    with server.http() as http:
        for method, path in (("GET", "/customers/"), ("PATCH", "/customers"), ("GET", "/plans")):
            response = http.request(method, path)
            assert response.status_code == 404, (method, path)
            assert "location" not in response.headers
            assert response.headers["content-type"] == "application/json"
            assert response.json()["type"] == ERROR_PREFIX + "404-url-not-found"


def test_success_statuses_follow_the_table(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    entry = {"entry_type": "increment", "amount": 5, "per_unit_cost_basis": "1",
             "invoice_settings": {"auto_collection": False, "net_terms": 0}}  # fmt: skip
    top_up = {"currency": "credits", "threshold": "1", "amount": "5", "per_unit_cost_basis": "1",
              "invoice_settings": {"auto_collection": False, "net_terms": 0}}  # fmt: skip
    with server.http() as http:
        made = http.post(f"/customers/{c.id}/credits/ledger_entry", json=entry)
        assert made.status_code == 201
        block_id, invoice_id = (
            made.json()["credit_block"]["id"],
            made.json()["created_invoices"][0]["id"],
        )
        made_top_up = http.post(f"/customers/{c.id}/credits/top_ups", json=top_up)
        assert made_top_up.status_code == 201
        assert http.put(f"/customers/{c.id}", json={"name": "N"}).status_code == 200
        assert http.put(f"/credit_blocks/{block_id}", json={}).status_code == 200
        paid = http.post(
            f"/invoices/{invoice_id}/mark_paid", json={"payment_received_date": "2030-01-01"}
        )
        assert paid.status_code == 200
        deleted = http.delete(f"/customers/{c.id}/credits/top_ups/{made_top_up.json()['id']}")
        assert (deleted.status_code, deleted.content) == (204, b"")
        for response in (made, made_top_up, paid):
            assert response.headers["content-type"] == "application/json"


# --- §1.8 errors -------------------------------------------------------------------------------


def _expect(response: Any, status: int, suffix: str, title: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert (body["type"], body["status"], body["title"]) == (ERROR_PREFIX + suffix, status, title)
    assert body["detail"] is None or isinstance(body["detail"], str)
    assert ("validation_errors" in body) == (suffix == "400-request-validation-errors")
    return dict(body)


def test_every_error_type_has_its_exact_title(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    invoice = purchase(client, c.id, 1, "1").created_invoices[0]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with server.http() as http:
        body = _expect(http.post("/customers", json={}), 400, "400-request-validation-errors",
                       "Request validation error")  # fmt: skip
        assert all(set(e) == {"field", "message"} for e in body["validation_errors"])
        assert {e["field"] for e in body["validation_errors"]} == {"name", "email"}
        _expect(http.post(f"/invoices/{invoice.id}/issue", json={}), 400,
                "400-constraint-violation", "Constraint violation")  # fmt: skip
        duplicate = {
            "name": "D",
            "email": "d@example.com",
            "external_customer_id": c.external_customer_id,
        }
        _expect(http.post("/customers", json=duplicate), 400,
                "400-duplicate-resource-creation", "Duplicate resource creation")  # fmt: skip
        _expect(http.get("/customers/nope"), 404, "404-resource-not-found",
                "A specified resource was not found.")  # fmt: skip
        _expect(http.get("/nope"), 404, "404-url-not-found", "URL not found")
        http.post("/customers", json={"name": "K", "email": "k@example.com"}, headers=key)
        conflict = http.post(
            "/customers", json={"name": "L", "email": "k@example.com"}, headers=key
        )
        _expect(conflict, 409, "409-resource-conflict", "Resource conflict")
        too_large = http.post("/customers", content=b"{" + b" " * (1 << 20) + b"}")
        _expect(too_large, 413, "413-request-too-large", "Request too large")
        unauthenticated = http.get("/ping", headers={"Authorization": "Token nope"})
        body = _expect(unauthenticated, 401, "401-authentication-error", "Authentication failure")
        assert body["detail"] == "The API key in the Authorization header is missing or not valid."


def test_sdk_dispatches_each_error_type_to_its_exception(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    invoice = purchase(client, c.id, 1, "1").created_invoices[0]
    with pytest.raises(orb.RequestValidationError):
        client.customers.create(name="", email="x@example.com")
    with pytest.raises(orb.ConstraintViolation):
        client.invoices.issue(invoice.id)
    with pytest.raises(orb.DuplicateResourceCreation):
        client.customers.create(name="D", email="d@example.com",
                                external_customer_id=c.external_customer_id)  # fmt: skip
    with pytest.raises(orb.ResourceNotFound):
        client.credit_blocks.retrieve("nope")
    with pytest.raises(orb.OrbAuthenticationError):
        orb.Orb(api_key="wrong", base_url=server.base_url, max_retries=0).top_level.ping()


# --- §1.6 timestamps ---------------------------------------------------------------------------


def test_boundary_fields_have_no_fractions_and_created_at_has_six_digits(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client, currency="USD")
    soon = datetime.now(UTC) + timedelta(days=3, microseconds=123)
    with server.http() as http:
        entry = http.post(f"/customers/{c.id}/credits/ledger_entry", json={
            "entry_type": "increment", "amount": 5, "per_unit_cost_basis": "1",
            "expiry_date": soon.isoformat(),
            "invoice_settings": {"auto_collection": False, "net_terms": 1}}).json()  # fmt: skip
        block = http.get(f"/credit_blocks/{entry['credit_block']['id']}").json()
        customer_json = http.get(f"/customers/{c.id}").json()
    invoice = entry["created_invoices"][0]
    for value in (entry["created_at"], invoice["created_at"], customer_json["created_at"]):
        assert CREATED_AT.fullmatch(value), value
    for value in (entry["credit_block"]["expiry_date"], block["effective_date"],
                  block["expiry_date"], invoice["invoice_date"], invoice["due_date"]):  # fmt: skip
        assert BOUNDARY.fullmatch(value), value


@pytest.mark.parametrize(
    ("sent", "expiry"),
    [
        ("2030-03-01", "2030-03-01T00:00:00Z"),
        ("2030-03-01T10:00:00Z", "2030-03-01T10:00:00Z"),
        ("2030-03-01T10:00:00+02:00", "2030-03-01T08:00:00Z"),
        ("2030-03-01T10:00:00-05:00", "2030-03-01T15:00:00Z"),
        ("2030-03-01T10:00:00.250000+00:00", "2030-03-01T10:00:00Z"),
        ("2030-03-01T10:00:00", "2030-03-01T10:00:00Z"),
    ],
)
def test_every_input_date_form_is_accepted(
    server: Server, client: orb.Orb, sent: str, expiry: str
) -> None:
    c = customer(client)
    with server.http() as http:
        body = {"entry_type": "increment", "amount": 1, "expiry_date": sent}
        response = http.post(f"/customers/{c.id}/credits/ledger_entry", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["credit_block"]["expiry_date"] == expiry


def test_sdk_datetimes_with_offsets_are_that_instant(client: orb.Orb) -> None:
    c = customer(client)
    plus_two = datetime(2030, 3, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    made = increment(client, c.id, 1, expiry_date=plus_two)
    assert made.credit_block.expiry_date == datetime(2030, 3, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize("sent", ["03/01/2030", "2030-3-1", "2030-03-01T25:00:00Z", "tomorrow", ""])
def test_other_date_forms_are_rejected(server: Server, client: orb.Orb, sent: str) -> None:
    c = customer(client)
    sent_body = {"entry_type": "increment", "amount": 1, "expiry_date": sent}
    body = raw_rejected(server, "POST", f"/customers/{c.id}/credits/ledger_entry", 400,
                        "400-request-validation-errors", json=sent_body)  # fmt: skip
    assert body["validation_errors"][0]["field"] == "expiry_date"


def test_query_datetimes_accept_plus_as_space_and_percent_encoding(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    increment(client, c.id, 1)
    later = increment(client, c.id, 2)
    since = later.created_at.astimezone(timezone(timedelta(hours=1))).isoformat()
    assert "+01:00" in since
    with server.http() as http:
        literal_plus = http.get(f"/customers/{c.id}/credits/ledger?created_at[gte]={since}")
    assert [e["id"] for e in literal_plus.json()["data"]] == [later.id]
    encoded = client.customers.credits.ledger.list(c.id, created_at_gte=later.created_at)
    assert [e.id for e in encoded] == [later.id]


# --- §1.6 numbers ------------------------------------------------------------------------------


def test_numbers_accept_json_numbers_and_plain_decimal_strings(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    path = f"/customers/{c.id}/credits/ledger_entry"
    with server.http() as http:
        as_string = http.post(path, json={"entry_type": "increment", "amount": "12.50"})
        exponent = http.post(path, content=b'{"entry_type": "increment", "amount": 1E+2}')
        tiny = http.post(path, content=b'{"entry_type": "increment", "amount": 0.000001}')
    assert '"amount":12.5,' in as_string.text
    assert '"amount":100,' in exponent.text
    assert '"amount":0.000001,' in tiny.text and '"ending_balance":112.500001,' in tiny.text


@pytest.mark.parametrize(
    "raw_amount",
    [b"true", b"NaN", b"Infinity", b"-Infinity", b'"NaN"', b'"1e2"', b'"12,5"', b"null",
     b"0.0000000000001", b"1.0000000000000000000000000000001", b"[1]",
     # §1.2: nothing around the digits, ASCII digits only, and inside the documented range.
     b'"1 "', b'" 1"', '"1\u00a0"'.encode(), b'"1\\u00a0"', '"\uff11"'.encode(),
     b'"+1"', b'".5"', b'"1."', b"1000000000000000000", b'"1000000000000000000"',
     b"1E+18", b"-1000000000000000000"],
)  # fmt: skip
def test_bad_numbers_are_rejected(server: Server, client: orb.Orb, raw_amount: bytes) -> None:
    c = customer(client)
    raw_rejected(server, "POST", f"/customers/{c.id}/credits/ledger_entry", 400,
                 "400-request-validation-errors",
                 content=b'{"entry_type": "increment", "amount": ' + raw_amount + b"}")  # fmt: skip


def test_decimal_strings_keep_the_callers_scale_and_money_its_minor_units(
    client: orb.Orb,
) -> None:
    c = customer(client, currency="USD")
    bought = purchase(client, c.id, 10.5, "0.20")
    assert bought.credit_block.per_unit_cost_basis == "0.20"
    assert client.credit_blocks.retrieve(bought.credit_block.id).per_unit_cost_basis == "0.20"
    [invoice] = bought.created_invoices
    line = invoice.line_items[0]
    assert (invoice.total, invoice.subtotal, invoice.amount_due) == ("2.10", "2.10", "2.10")
    assert (line.amount, line.price.unit_config.unit_amount) == ("2.10", "0.20")  # type: ignore[union-attr]
    top_up = client.customers.credits.top_ups.create(
        c.id, currency="credits", threshold="0", amount="10.50", per_unit_cost_basis="0.20",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    listed = client.customers.credits.top_ups.list(c.id).data[0]
    for shown in (top_up, listed):
        assert (shown.amount, shown.threshold, shown.per_unit_cost_basis) == ("10.50", "0", "0.20")
    yen = customer(client, currency="JPY")
    # R-INV-1 rounds to the yen; §1.6 writes invoice money with (at least) 2 decimals.
    assert purchase(client, yen.id, 3, "0.333").created_invoices[0].total == "1.00"
    kwd = customer(client, currency="KWD")
    assert purchase(client, kwd.id, 1, "1.2345").created_invoices[0].total == "1.235"


# --- §1.6 metadata, null vs absent, unknown keys ---------------------------------------------


def test_metadata_limit_applies_to_the_merged_result(server: Server, client: orb.Orb) -> None:
    full = {f"k{i}": "v" for i in range(50)}
    c = customer(client, metadata=full)
    block_id = increment(client, c.id, 1, metadata=full).credit_block.id
    rejected(server, orb.RequestValidationError, "400-request-validation-errors",
             client.customers.update, c.id, metadata={"one_more": "v"})  # fmt: skip
    rejected(server, orb.RequestValidationError, "400-request-validation-errors",
             client.credit_blocks.update, block_id, metadata={"one_more": "v"})  # fmt: skip
    swapped = client.customers.update(c.id, metadata={"k0": None, "new": "v"}).metadata
    assert len(swapped) == 50 and "new" in swapped


def test_null_is_absent_and_unknown_keys_are_ignored_on_create(server: Server) -> None:
    optional = ("external_customer_id", "currency", "timezone", "metadata", "auto_collection",
                "auto_issuance", "email_delivery", "additional_emails", "payment_provider",
                "payment_provider_id", "billing_address", "shipping_address", "tax_id")  # fmt: skip
    body = {"name": "N", "email": "n@example.com", "surprise": {"x": 1}}
    with server.http() as http:
        created = http.post("/customers", json={**body, **dict.fromkeys(optional)})
        assert created.status_code == 201, created.text
        made = created.json()
        assert (made["timezone"], made["metadata"], made["additional_emails"]) == ("UTC", {}, [])
        assert (made["email_delivery"], made["auto_collection"]) == (True, False)
        entry = {"entry_type": "increment", "amount": 1, "zzz": 1, **dict.fromkeys((
            "currency", "description", "metadata", "effective_date", "expiry_date",
            "per_unit_cost_basis", "filters", "invoice_settings"))}  # fmt: skip
        added = http.post(f"/customers/{made['id']}/credits/ledger_entry", json=entry)
        assert added.status_code == 201, added.text
        assert (added.json()["currency"], added.json()["metadata"]) == ("credits", {})


def test_null_leaves_fields_unchanged_on_update(client: orb.Orb) -> None:
    c = customer(client, email_delivery=False, auto_collection=True, additional_emails=["a@x.io"],
                 billing_address={"city": "Oslo"}, metadata={"a": "1"})  # fmt: skip
    updated = client.customers.update(
        c.id, email_delivery=None, auto_collection=None, additional_emails=None,
        billing_address=None, currency=None, external_customer_id=None, tax_id=None,
    )  # fmt: skip
    assert (updated.email_delivery, updated.auto_collection) == (False, True)
    assert updated.additional_emails == ["a@x.io"]
    assert updated.billing_address is not None and updated.billing_address.city == "Oslo"
    assert (updated.external_customer_id, updated.metadata) == (c.external_customer_id, {"a": "1"})
