"""The customer page's balance alerts in a real browser (headless Chromium) against a real
`drawdown serve`: an alert made with the SDK is shown with its status, disabled and enabled
with a click (the SDK sees it), and a depleted alert is added through the form."""

from __future__ import annotations

import re
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_alerts_section(page: Any, root: str, console_server: Server, shot: Any) -> None:  # noqa: F811
    sign_in(page, root)
    client = console_server.client(_strict_response_validation=True)
    customer = client.customers.create(name="Ada", email="ada@example.com")
    alert = client.alerts.create_for_customer(
        customer.id, currency="credits", type="credit_balance_dropped",
        thresholds=[{"value": 50}, {"value": 10}],
    )  # fmt: skip
    ledger = client.customers.credits.ledger
    ledger.create_entry(customer.id, entry_type="increment", amount=100)
    ledger.create_entry(customer.id, entry_type="decrement", amount=60)  # 40: below 50

    page.goto(root + f"/console/customers/{customer.id}")
    row = page.locator(f'tr[data-alert="{alert.id}"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[:5] == ["credit_balance_dropped", "credits", "10, 50",
                         "in alert: at or below 50", "enabled"]  # fmt: skip
    row.get_by_role("button", name="Disable").click()
    page.wait_for_url(re.compile(r"alert=disabled"))
    assert page.get_by_role("status").first.inner_text() == "Alert disabled."
    assert row.get_attribute("data-enabled") == "no"
    assert client.alerts.retrieve(alert.id).enabled is False
    row.get_by_role("button", name="Enable").click()
    page.wait_for_url(re.compile(r"alert=enabled"))
    assert client.alerts.retrieve(alert.id).enabled is True

    form = page.locator("details.action", has=page.get_by_text("Add a balance alert"))
    form.locator("summary").click()
    form.get_by_label(re.compile("When the credits balance")).select_option(
        "credit_balance_depleted"
    )
    form.get_by_role("button", name="Add alert").click()
    page.wait_for_url(re.compile(r"alert=added"))
    types = page.locator("table.alerts tbody tr td:first-child").all_inner_texts()
    assert types == ["credit_balance_dropped", "credit_balance_depleted"]
    [depleted] = [a for a in client.alerts.list(customer_id=customer.id)
                  if a.type == "credit_balance_depleted"]  # fmt: skip
    assert depleted.enabled and depleted.thresholds is None
    shot("01-customer-alerts")
    assert page.console_problems == []
