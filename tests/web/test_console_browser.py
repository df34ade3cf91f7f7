"""The console in a real browser (headless Chromium) against a real `drawdown serve`.

The story: sign in, create an API key, use it with the orb-billing SDK, find the customer
and its credits in the console, deduct credits through a form, watch the ledger and chart
change, submit bad forms and read the errors, check a phone-width layout, revoke the key
and see the SDK refused, sign out. Screenshots go to test-output/web/<test>/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orb
import pytest

from conftest import REPO, Server, run_cli, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ADMIN_EMAIL = "ops@example.com"
ADMIN_PASSWORD = "a long console password"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing; browser tests must run in CI")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


@pytest.fixture
def console_server(database_factory: Any) -> Iterator[Server]:
    require_chromium()
    database_url = database_factory("sqlite")
    run_cli(database_url, "admin", "create-user", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    server = start_server(database_url)
    yield server
    stop_server(server)


@pytest.fixture
def root(console_server: Server) -> str:
    return console_server.base_url.removesuffix("/v1")


@pytest.fixture
def page(root: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=root)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.console_problems = []
        page.on("console", lambda m: _note_problem(page.console_problems, m))
        yield page
        browser.close()


def _note_problem(problems: list[str], message: Any) -> None:
    # A rejected form is answered with 400 on purpose; anything else (CSP, script) is a bug.
    expected = "the server responded with a status of 400" in message.text
    if message.type == "error" and not expected:
        problems.append(message.text)


@pytest.fixture
def shot(request: pytest.FixtureRequest, page: Any) -> Callable[[str], None]:
    folder = REPO / "test-output" / "web" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def sign_in(page: Any, root: str) -> None:
    page.goto(root + "/console")
    assert "/console/login" in page.url
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/customers$"))


def create_key(page: Any, root: str, name: str) -> str:
    page.goto(root + "/console/keys")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").input_value()
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name=re.compile("Copied|Press Ctrl")).wait_for()
    return secret


def chart_titles(page: Any) -> list[str]:
    return page.locator("svg.chart circle title").all_text_contents()


def submit_entry_form(page: Any, title: str, values: dict[str, str]) -> None:
    form = page.locator("details.action", has=page.get_by_text(title, exact=True))
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    for label, value in values.items():
        field = form.get_by_label(label, exact=True)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(index=1) if value == "first" else field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_console_story(page: Any, root: str, console_server: Server, shot: Any) -> None:
    page.goto(root + "/console")
    shot("01-sign-in")
    sign_in(page, root)

    secret = create_key(page, root, "sdk")
    assert secret.startswith("dd_")
    shot("02-key-created")
    page.reload()  # the secret is shown once, never again
    assert page.locator("#new-secret").count() == 0
    assert page.get_by_role("cell", name="sdk", exact=True).is_visible()

    client = orb.Orb(api_key=secret, base_url=console_server.base_url, max_retries=0)
    customer = client.customers.create(
        name="Ada Lovelace", email="ada@example.com", external_customer_id="ada-1"
    )
    expiry = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    client.customers.credits.ledger.create_entry(
        customer.id,
        entry_type="increment",
        amount=100,
        per_unit_cost_basis="0.10",
        expiry_date=expiry,
    )

    page.goto(root + "/console/customers")
    page.get_by_label("Search").fill("ada-1")
    page.get_by_role("button", name="Search").click()
    row = page.locator("table.customers tbody tr")
    assert row.count() == 1
    assert "ada@example.com" in row.inner_text()
    assert "100 credits" in row.inner_text()
    shot("03-customers")

    row.get_by_role("link", name="Ada Lovelace").click()
    page.wait_for_url(re.compile(f"/console/customers/{customer.id}"))
    assert page.locator(".balance-card.current .value").inner_text() == "100"
    blocks = page.locator("table.blocks tbody tr")
    assert blocks.count() == 1
    cells = blocks.locator("td").all_inner_texts()
    assert cells[1:3] == ["100", "100"]  # initial, remaining
    assert cells[4].startswith(expiry)
    assert cells[5:] == ["0.10", "all items", "active"]  # cost basis as the API echoes it; filters
    assert [t.split(" at ")[0] for t in chart_titles(page)] == ["100"]

    submit_entry_form(page, "Deduct credits", {"Amount": "30", "Description": "console usage"})
    assert page.get_by_role("status").inner_text() == "Ledger entry added."
    assert page.locator(".balance-card.current .value").inner_text() == "70"
    first_entry = page.locator("table.ledger tbody tr").first
    assert first_entry.get_attribute("data-entry-type") == "decrement"
    assert "100 → 70" in first_entry.inner_text()
    assert "console usage" in first_entry.inner_text()
    assert [t.split(" at ")[0] for t in chart_titles(page)] == ["100", "70"]
    shot("04-after-decrement")

    # The SDK sees the entry the form wrote: one write path.
    sdk_entries = client.customers.credits.ledger.list(customer.id).data
    assert [(e.entry_type, e.amount) for e in sdk_entries][:1] == [("decrement", 30.0)]

    submit_entry_form(page, "Deduct credits", {"Amount": "thirty"})
    amount = page.locator("#decrement-amount")
    assert amount.get_attribute("aria-invalid") == "true"
    assert amount.input_value() == "thirty"  # what was typed is kept
    assert "plain decimal" in page.locator("#decrement-amount-error").inner_text()
    shot("05-invalid-amount")

    submit_entry_form(page, "Void credits", {"Credit block": "first", "Amount": "5000"})
    assert page.locator("#void-amount").get_attribute("aria-invalid") == "true"
    assert page.locator("#void-amount-error").inner_text()
    assert page.locator(".balance-card.current .value").inner_text() == "70"  # nothing written
    shot("06-void-too-much")

    page.goto(root + f"/console/customers/{customer.id}?entry_type=increment")
    assert page.locator("table.ledger tbody tr").count() == 1
    page.goto(root + f"/console/customers/{customer.id}?minimum_amount=abc")
    assert "plain decimal" in page.locator(".filters .field-error").inner_text()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(root + f"/console/customers/{customer.id}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, "the page scrolls sideways on a phone"
    shot("07-phone-customer")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(root + "/console/keys")
    page.get_by_role("row", name=re.compile(r"^sdk ")).get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    page.wait_for_url(re.compile(r"/console/keys\?revoked="))
    shot("08-key-revoked")
    with pytest.raises(orb.AuthenticationError):
        client.customers.list()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/console/login$"))
    page.goto(root + "/console/keys")
    assert "/console/login" in page.url
    assert page.console_problems == []  # no CSP violations or script errors
