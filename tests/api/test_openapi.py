"""The API reference (issue 13 item 8, issue 11 item 6): the OpenAPI document describes
exactly the routes the app serves, is valid OpenAPI 3.1, and is served without a key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from conftest import Server
from drawdown.api import openapi
from drawdown.app import create_app
from drawdown.settings import Settings
from support.contexts import make_context


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, document path) of every route the running app's /v1 router matches."""
    ctx = make_context(f"sqlite:///{tmp_path / 'routes.db'}")
    try:
        router = create_app(ctx=ctx).api.app  # Front -> ApiGate -> Router
        found = set()
        for route in router.routes:
            assert isinstance(route, Route), route
            for method in route.methods or ():
                if method != "HEAD":  # Starlette adds HEAD to every GET
                    found.add((method.lower(), openapi.openapi_path(route.path)))
        return found
    finally:
        ctx.keys.stop()
        ctx.db.close()


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, ops in document["paths"].items() for method in ops}


def test_the_document_covers_exactly_the_routes_that_exist(tmp_path: Path) -> None:
    routes = served_routes(tmp_path)
    doc = documented(openapi.build_document(Settings()))
    missing = sorted(routes - doc)
    assert not missing, f"add these routes to api/openapi.py OPERATIONS: {missing}"
    assert not sorted(doc - routes), "documented but not served"
    assert len(routes) >= 39


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi.build_document(Settings())
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_operations_have_unique_ids_and_orb_names() -> None:
    ids = [op.operation_id for op in openapi.OPERATIONS]
    assert len(ids) == len(set(ids))
    sdk = {op.sdk for op in openapi.OPERATIONS if op.sdk}
    assert {"customers.create", "customers.credits.ledger.create_entry_by_external_id",
            "credit_blocks.list_invoices", "invoices.mark_paid"} <= sdk  # fmt: skip


def test_request_bodies_come_from_the_routes_models() -> None:
    schemas = openapi.build_document(Settings())["components"]["schemas"]
    increment = schemas["AddIncrementCreditLedgerEntryRequestParams"]
    assert increment["required"] == ["entry_type", "amount"]
    assert increment["properties"]["entry_type"]["const"] == "increment"
    assert schemas["NewCustomer"]["required"] == ["name", "email"]
    body = schemas["AddCreditLedgerEntryRequestParams"]
    assert len(body["oneOf"]) == 5


def test_errors_are_the_ones_the_server_sends() -> None:
    document = openapi.build_document(Settings(page_limit_max=50))
    create = document["paths"]["/customers/{customer_id}/credits/ledger_entry"]["post"]
    statuses = {"201", "400", "401", "404", "409", "413", "415", "429", "500"}
    assert set(create["responses"]) == statuses
    assert "422" not in str(document)
    error = document["components"]["schemas"]["Error"]
    assert "validation_errors" in error["properties"]
    listing = document["paths"]["/customers"]["get"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 50  # the server's own limits


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_the_reference_is_served_without_a_key(server: Server, path: str) -> None:
    response = httpx.get(server.base_url + path)
    assert response.status_code == 200
    if path == "/openapi.json":
        assert response.headers["content-type"] == "application/json"
        assert response.json() == openapi.build_document(Settings())
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "openapi.json" in response.text
        assert "://" not in response.text.split("<script>", 1)[1]  # nothing from elsewhere


def test_other_routes_still_need_a_key(server: Server) -> None:
    assert httpx.get(server.base_url + "/customers").status_code == 401
    assert httpx.post(server.base_url + "/openapi.json").status_code == 401


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_the_docs_page_renders_every_operation(server: Server) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; browser tests must run in CI")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    if "sqlite" not in server.database_url:
        pytest.skip("the page is the same on every database")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.on("console", lambda message: problems.append(message.text))
        page.goto(server.base_url + "/docs")
        page.wait_for_selector("summary .m")
        operations = page.locator("summary .m").count()
        page.fill("#filter", "ledger_entry")
        shown = page.locator("details:visible summary .m").count()
        browser.close()
    assert operations == len(openapi.OPERATIONS)
    assert shown == 4  # create and preview, by id and by external id
    assert not problems  # no script error, no Content-Security-Policy violation
