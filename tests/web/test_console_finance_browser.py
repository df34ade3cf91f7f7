"""The finance pages in a real browser (headless Chromium) against a real `drawdown serve`:
the available-balance headline, credit settings, a depleted block, the liability dashboard
and the webhooks page (add an endpoint, see a delivery and its attempts, replay it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_console_browser import (  # noqa: F401 - fixtures
    console_server,
    page,
    root,
    shot,
    sign_in,
)

from conftest import Server
from support.webhook_receiver import receiving

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_finance_pages(page: Any, root: str, console_server: Server, shot: Any) -> None:  # noqa: F811
    sign_in(page, root)
    client = console_server.client()
    customer = client.customers.create(name="Grace", email="grace@example.com")
    ledger = client.customers.credits.ledger
    next_week = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    soon = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    ledger.create_entry(customer.id, entry_type="increment", amount=50)
    ledger.create_entry(customer.id, entry_type="decrement", amount=50)
    ledger.create_entry(customer.id, entry_type="increment", amount=3935,
                        per_unit_cost_basis="0.01", expiry_date=soon)  # fmt: skip
    ledger.create_entry(customer.id, entry_type="increment", amount=1000, effective_date=next_week)

    page.goto(root + f"/console/customers/{customer.id}")
    card = page.locator(".balance-card.current")
    assert card.locator(".value").inner_text() == "3935"
    assert "scheduled 1000" in card.inner_text() and "total 4935" in card.inner_text()
    page.get_by_role("link", name="Show all blocks").click()
    page.wait_for_url(re.compile("all_blocks=1"))
    statuses = page.locator("table.blocks tbody tr td:last-child").all_inner_texts()
    assert sorted(statuses) == ["active", "depleted", "not yet effective"]  # used up: not "active"
    settings = page.locator("details.action", has=page.get_by_text("Credit settings", exact=True))
    settings.locator("summary").click()
    settings.get_by_label("Overdraft").select_option("refuse")
    settings.get_by_label(re.compile("Alert thresholds")).fill("500, 100")
    settings.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").first.inner_text() == "Settings saved."
    assert settings.get_by_label(re.compile("Alert thresholds")).input_value() == "100, 500"
    shot("01-customer-headline-settings")

    page.get_by_role("link", name="Liability").click()
    page.wait_for_url(re.compile(r"/console/dashboard"))
    totals = page.locator("table.liability")
    assert totals.locator('[data-col="granted"]').inner_text() == "4985"
    assert totals.locator('[data-col="closing"]').inner_text() == "4935"
    assert "reconciles (4935)" in totals.inner_text()
    assert page.locator('[data-expiring="credits"]').inner_text().split("\t")[1] == "3935"
    assert page.locator("svg.chart").count() == 1
    shot("02-dashboard")

    with receiving("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") as receiver:
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Signing secret").fill(receiver.secret)
        page.get_by_role("button", name="Add endpoint").click()
        page.wait_for_url(re.compile(r"/console/webhooks$"))
        assert receiver.url in page.locator("table").first.inner_text()
        page.wait_for_timeout(1500)  # the serving process reloads its endpoint list
        other = client.customers.create(name="Hopper", email="h@example.com")
        client.alerts.create_for_customer(other.id, currency="credits",
                                          type="credit_balance_depleted")  # fmt: skip
        ledger.create_entry(other.id, entry_type="decrement", amount=1)
        [got] = receiver.wait_for(1)
        assert got.verified and got.json["type"] == "customer.credit_balance_depleted"
        page.reload()
        row = page.locator(f'tr[data-event="{got.id}"]')
        assert row.get_attribute("data-status") == "delivered"
        assert " — 200, " in row.locator("[data-attempt]").inner_text()
        shot("03-webhooks")
        row.get_by_role("button", name="Replay").click()
        page.wait_for_url(re.compile(r"notice=replayed"))
        receiver.wait_for(2)
        assert [r.id for r in receiver.received] == [got.id, got.id]
    assert page.console_problems == []
