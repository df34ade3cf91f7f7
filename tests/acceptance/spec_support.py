"""Helpers shared by the black-box acceptance tests (tests/acceptance/test_spec_*.py).

Every test checks one statement of docs/rules.md against a running drawdown server (both
backends), over raw HTTP so exact wire values are visible. Two styles live side by side: the
`api` fixture, an `Api` wrapper whose calls assert their status (customers and the ledger), and
the `http` fixture with plain functions (`customer`, `incr`, `purchase`, `top_up`, ...) for
purchases, top-ups and blocks. The fixtures are defined as `*_fixture` under their short names,
so a test module imports them (`from spec_support import api_fixture`) without its test
parameters shadowing the import.
"""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conftest import Server, unique

ERR = "https://docs.withorb.com/reference/error-responses#"
VALIDATION = ERR + "400-request-validation-errors"
CONSTRAINT = ERR + "400-constraint-violation"
DUPLICATE = ERR + "400-duplicate-resource-creation"
NOT_FOUND = ERR + "404-resource-not-found"
URL_NOT_FOUND = ERR + "404-url-not-found"
AUTH = ERR + "401-authentication-error"

FAR = "2099-04-01"  # a far-future expiry date


# --------------------------------------------------------------------------- time


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def same_instant(a: str | None, b: str | datetime | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    bb = ts(b) if isinstance(b, str) else b
    return ts(a) == bb


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- the `api` style


class Api:
    def __init__(self, h: httpx.Client) -> None:
        self.h = h

    @staticmethod
    def body(r: httpx.Response) -> Any:
        return json.loads(r.text, parse_float=Decimal) if r.content else None

    def call(self, method: str, path: str, expect: int | None = None, **kw: Any) -> httpx.Response:
        r = self.h.request(method, path, **kw)
        if expect is not None:
            assert r.status_code == expect, (r.status_code, r.text)
        return r

    # customers
    def customer(self, **kw: Any) -> dict[str, Any]:
        body = {"name": "Acme", "email": "billing@example.com", **kw}
        return self.body(self.call("POST", "/customers", 201, json=body))

    def get_customer(self, cid: str) -> dict[str, Any]:
        return self.body(self.call("GET", f"/customers/{cid}", 200))

    def update(self, cid: str, expect: int = 200, **body: Any) -> httpx.Response:
        return self.call("PUT", f"/customers/{cid}", expect, json=body)

    # ledger
    def entry_raw(self, cid: str, **body: Any) -> httpx.Response:
        return self.call("POST", f"/customers/{cid}/credits/ledger_entry", json=body)

    def entry(self, cid: str, **body: Any) -> dict[str, Any]:
        r = self.entry_raw(cid, **body)
        assert r.status_code == 201, (r.status_code, r.text)
        return self.body(r)

    def inc(self, cid: str, amount: Any, **kw: Any) -> dict[str, Any]:
        return self.entry(cid, entry_type="increment", amount=amount, **kw)

    def dec(self, cid: str, amount: Any, **kw: Any) -> dict[str, Any]:
        return self.entry(cid, entry_type="decrement", amount=amount, **kw)

    def ledger(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 100)
        r = self.call("GET", f"/customers/{cid}/credits/ledger", 200, params=params)
        return self.body(r)["data"]

    def chain(self, cid: str, currency: str = "credits") -> list[dict[str, Any]]:
        """Entries of one ledger in ascending sequence order."""
        return sorted(
            self.ledger(cid, currency=currency), key=lambda e: e["ledger_sequence_number"]
        )

    def blocks(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", 100)
        r = self.call("GET", f"/customers/{cid}/credits", 200, params=params)
        return self.body(r)["data"]

    def all_blocks(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        return self.blocks(cid, include_all_blocks="true", **params)

    def block(self, block_id: str) -> dict[str, Any]:
        return self.body(self.call("GET", f"/credit_blocks/{block_id}", 200))


def assert_error(r: httpx.Response, status: int, type_uri: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].split(";")[0].strip().endswith("json")
    body = r.json()
    assert body["type"] == type_uri, body
    assert body["status"] == status
    return body


@pytest.fixture(name="api")
def api_fixture(server: Server) -> Any:
    with server.http() as h:
        yield Api(h)


@pytest.fixture(name="cust")
def cust_fixture(api: Api) -> dict[str, Any]:
    return api.customer(external_customer_id=unique("acc"))


# --------------------------------------------------------------------------- the `http` style


@pytest.fixture(name="http")
def http_fixture(server: Server) -> Any:
    with server.http() as h:
        yield h


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
