"""Regressions found in review: requests that answered 500 or a wrong amount, on both databases."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import Server, unique
from drawdown.api.pagination import encode_cursor


def _customer(http: httpx.Client) -> str:
    body = {
        "name": "R",
        "email": "r@example.com",
        "currency": "USD",
        "external_customer_id": unique(),
    }
    response = http.post("/customers", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _purchase(http: httpx.Client, customer_id: str, **fields: Any) -> httpx.Response:
    body = {
        "entry_type": "increment",
        "invoice_settings": {"auto_collection": False, "net_terms": 0},
        **fields,
    }
    return http.post(f"/customers/{customer_id}/credits/ledger_entry", json=body)


def _top_up(http: httpx.Client, customer_id: str, **fields: Any) -> httpx.Response:
    body = {
        "currency": "credits", "amount": "10", "threshold": "5", "per_unit_cost_basis": "1",
        "invoice_settings": {"auto_collection": False, "net_terms": 0}, **fields,
    }  # fmt: skip
    return http.post(f"/customers/{customer_id}/credits/top_ups", json=body)


def _total(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    [invoice] = response.json()["created_invoices"]
    return str(invoice["total"])


def test_invoice_total_of_large_purchase_is_exact_not_500(server: Server) -> None:
    """R-INV-1: 1e17 credits at 1e15 is 1e32 USD; the 28-digit default context failed (500)."""
    with server.http() as http:
        c = _customer(http)
        made = _purchase(
            http, c, amount="100000000000000000", per_unit_cost_basis="1000000000000000"
        )
        assert _total(made) == "100000000000000000000000000000000.00"


def test_invoice_total_is_rounded_once(server: Server) -> None:
    """R-INV-1: ….0049999999 rounds half-up to ….00; rounding at 28 digits first made it ….01."""
    with server.http() as http:
        c = _customer(http)
        made = _purchase(http, c, amount="100000000000000000.004999999999", per_unit_cost_basis="1")
        assert _total(made) == "100000000000000000.00"


def test_small_cost_basis_is_echoed_without_exponent(server: Server) -> None:
    """§1.6: decimal strings never use exponent notation; str(Decimal) gave "1E-7"."""
    with server.http() as http:
        c = _customer(http)
        made = _purchase(http, c, amount="10000000", per_unit_cost_basis="0.0000001")
        assert made.status_code == 201, made.text
        assert made.json()["credit_block"]["per_unit_cost_basis"] == "0.0000001"
        [invoice] = made.json()["created_invoices"]
        assert invoice["line_items"][0]["price"]["unit_config"]["unit_amount"] == "0.0000001"
        assert invoice["total"] == "1.00"


def test_huge_net_terms_are_a_400_not_a_500(server: Server) -> None:
    with server.http() as http:
        c = _customer(http)
        before = server.snapshot()
        for net_terms in (5_000_000, 10**12):
            settings = {"auto_collection": False, "net_terms": net_terms}
            made = _purchase(
                http, c, amount="10", per_unit_cost_basis="1", invoice_settings=settings
            )
            assert made.status_code == 400, made.text
            assert made.json()["validation_errors"][0]["field"] == "invoice_settings.net_terms"
        far = {"auto_collection": False, "net_terms": 30, "invoice_date": "9999-12-20"}
        made = _purchase(http, c, amount="10", per_unit_cost_basis="1", invoice_settings=far)
        assert made.status_code == 400, made.text
        assert server.snapshot() == before


def test_top_up_that_could_never_fire_is_refused_at_creation(server: Server) -> None:
    """A top-up with an out-of-range block lifetime or net terms used to be accepted and then
    turn every later decrement of the customer into a 500, when it fired."""
    with server.http() as http:
        c = _customer(http)
        ledger = f"/customers/{c}/credits/ledger_entry"
        assert http.post(ledger, json={"entry_type": "increment", "amount": 100}).status_code == 201
        bad = (
            {"expires_after": 100_000_000, "expires_after_unit": "month"},
            {"expires_after": 10**9, "expires_after_unit": "day"},
            {"invoice_settings": {"auto_collection": False, "net_terms": 10**9}},
        )
        for fields in bad:
            made = _top_up(http, c, **fields)
            assert made.status_code == 400, made.text
        spent = http.post(ledger, json={"entry_type": "decrement", "amount": 99})
        assert spent.status_code == 201, spent.text


def test_tampered_top_up_cursor_is_a_400(server: Server) -> None:
    with server.http() as http:
        c = _customer(http)
        cursor = encode_cursor("top_ups", {"c": c}, ["not a date", "x"])
        listed = http.get(f"/customers/{c}/credits/top_ups", params={"cursor": cursor})
        assert listed.status_code == 400, listed.text
        assert listed.json()["validation_errors"][0]["field"] == "cursor"


def test_top_up_threshold_compares_exact_balance(server: Server) -> None:
    """R-TOP-2: D > threshold by 1e-9 must not fire; D summed at 28 digits rounded it away."""
    with server.http() as http:
        c = _customer(http)
        ledger = f"/customers/{c}/credits/ledger_entry"
        made = http.post(
            ledger, json={"entry_type": "increment", "amount": "100000000000000000.000000000002"}
        )
        assert made.status_code == 201, made.text
        created = _top_up(http, c, threshold="100000000000000000.000000000001")
        assert created.status_code == 201, created.text
        entries = http.get(f"/customers/{c}/credits/ledger").json()["data"]
        assert [e["entry_type"] for e in entries] == ["increment"]


def test_timezone_naming_a_tzdata_folder_is_a_400(server: Server) -> None:
    """ZoneInfo("Europe") raises IsADirectoryError, which was not caught (500)."""
    with server.http() as http:
        for timezone in ("Europe", "A" * 300):
            body = {"name": "T", "email": "t@example.com", "timezone": timezone}
            made = http.post("/customers", json=body)
            assert made.status_code == 400, made.text
            assert made.json()["validation_errors"][0]["field"] == "timezone"


def test_due_date_filter_on_the_last_day_is_a_400(server: Server) -> None:
    """`due_date=9999-12-31` means [that day, the next day): the next day overflowed (500)."""
    with server.http() as http:
        for param in ("due_date", "due_date[gt]", "due_date[lte]"):
            listed = http.get("/invoices", params={param: "9999-12-31"})
            assert listed.status_code == 400, listed.text
