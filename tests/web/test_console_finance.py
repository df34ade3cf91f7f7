"""The console's finance pages in-process: the balance headline (available with scheduled,
awaiting payment and total beside it), credit settings, a used-up block that says
"depleted", the liability dashboard, and the webhooks page (add, deliveries, replay, remove).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from console_helpers import console_app, csrf_token, sign_in

from drawdown.services import balance_alerts, customers
from drawdown.services.credits import credit_settings, entries
from drawdown.services.entry_input import entry_request
from drawdown.services.webhooks import endpoints
from drawdown.services.write_path import CustomerRef


def _entry(ctx, ref, **body) -> None:
    entries.create_entry(ref, entry_request(body)).run(ctx)


def test_customer_headline_settings_and_depleted_blocks(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        customer = customers.create_customer({"name": "Acme", "email": "a@acme.test"}).run(ctx)
        ref = CustomerRef(id=customer.id)
        later = (datetime.now(UTC) + timedelta(days=5)).isoformat()
        _entry(ctx, ref, entry_type="increment", amount=Decimal(50))
        _entry(ctx, ref, entry_type="decrement", amount=Decimal(50))
        _entry(ctx, ref, entry_type="increment", amount=Decimal(40), effective_date=later)
        _entry(ctx, ref, entry_type="decrement", amount=Decimal(10))
        path = f"/console/customers/{customer.id}"
        page = client.get(path).text
        assert '<span class="value" data-available="credits">-10</span>' in page
        assert "scheduled 40" in page and "awaiting payment 0" in page and "total 30" in page
        assert "depleted" in page  # the first block is used up
        token = csrf_token(client, path)
        saved = client.post(path + "/settings", data={
            "csrf_token": token, "currency": "credits", "overdraft": "refuse",
            "thresholds": "100, 25.5",
        })  # fmt: skip
        assert saved.status_code == 303, saved.text
        settings = credit_settings.get_settings(ctx, ref)
        assert settings.overdraft == "refuse"
        assert settings.thresholds == (("credits", Decimal("25.5")), ("credits", Decimal(100)))
        bad = client.post(path + "/settings", data={
            "csrf_token": token, "currency": "credits", "thresholds": "-1",
        })  # fmt: skip
        assert bad.status_code == 400 and "must be greater than or equal to 0" in bad.text
        assert credit_settings.get_settings(ctx, ref).thresholds == settings.thresholds


def test_customer_alerts_are_shown_added_enabled_and_disabled(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        customer = customers.create_customer({"name": "Al", "email": "al@x.test"}).run(ctx)
        ref = CustomerRef(id=customer.id)
        path = f"/console/customers/{customer.id}"
        assert "No alerts: no balance webhook is sent for this customer." in client.get(path).text
        token = csrf_token(client, path)
        added = client.post(path + "/alerts", data={
            "csrf_token": token, "currency": "credits", "type": "credit_balance_dropped",
            "thresholds": "50, 10",
        })  # fmt: skip
        assert added.status_code == 303
        assert added.headers["location"] == path + "?currency=credits&alert=added"
        _entry(ctx, ref, entry_type="increment", amount=Decimal(30))
        _entry(ctx, ref, entry_type="decrement", amount=Decimal(1))  # 29: below 50 only
        [view] = balance_alerts.list_alerts(ctx, ref, [], None, 10)
        alert_id = view.alert.id
        page = client.get(added.headers["location"]).text
        assert "Alert added." in page
        row = re.search(rf'<tr data-alert="{alert_id}" data-enabled="yes">(.*?)</tr>', page, re.S)
        assert row is not None
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
        assert cells[:3] == ["credit_balance_dropped", "credits", "10, 50"]
        assert "at or below 50" in cells[3] and "enabled" in cells[4]
        assert f"/alerts/{alert_id}/disable" in cells[5]
        disabled = client.post(f"{path}/alerts/{alert_id}/disable",
                               data={"csrf_token": token, "currency": "credits"})  # fmt: skip
        assert disabled.status_code == 303
        assert balance_alerts.get_alert(ctx, alert_id).alert.enabled is False
        page = client.get(disabled.headers["location"]).text
        assert "Alert disabled." in page and f'data-alert="{alert_id}" data-enabled="no"' in page
        client.post(f"{path}/alerts/{alert_id}/enable", data={"csrf_token": token})
        assert balance_alerts.get_alert(ctx, alert_id).alert.enabled is True
        # Bad forms: the service's own errors, nothing written.
        again = client.post(path + "/alerts", data={
            "csrf_token": token, "currency": "credits", "type": "credit_balance_dropped",
            "thresholds": "5"})  # fmt: skip
        assert (
            again.status_code == 400 and "already has a credit_balance_dropped alert" in again.text
        )
        bad = client.post(path + "/alerts", data={
            "csrf_token": token, "currency": "credits", "type": "credit_balance_depleted",
            "thresholds": "5"})  # fmt: skip
        assert bad.status_code == 400 and "take no thresholds" in bad.text
        other = customers.create_customer({"name": "O", "email": "o@x.test"}).run(ctx)
        foreign = client.post(f"/console/customers/{other.id}/alerts/{alert_id}/disable",
                              data={"csrf_token": token})  # fmt: skip
        assert (
            foreign.status_code == 400 and "Could not find a resource of type Alert" in foreign.text
        )
        assert len(balance_alerts.list_alerts(ctx, ref, [], None, 10)) == 1
        assert balance_alerts.get_alert(ctx, alert_id).alert.enabled is True


def test_dashboard_reconciles_and_lists_expiring_credits(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        customer = customers.create_customer({"name": "B", "email": "b@b.test"}).run(ctx)
        ref = CustomerRef(id=customer.id)
        soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
        _entry(ctx, ref, entry_type="increment", amount=Decimal("100.5"),
               per_unit_cost_basis="0.20", expiry_date=soon)  # fmt: skip
        _entry(ctx, ref, entry_type="decrement", amount=Decimal("0.5"))
        today = datetime.now(UTC).date()
        page = client.get(f"/console/dashboard?from={today}&to={today}").text
        assert 'data-col="granted">100.5<' in page
        assert 'data-col="consumed">0.5<' in page
        assert 'data-col-value="closing">20<' in page  # 100 × 0.20 deferred revenue
        assert "reconciles (100)" in page
        assert re.search(r'data-expiring="credits"><td>credits</td><td class="num">100<', page)
        assert "<svg" in page
        assert client.get("/console/dashboard?from=nope").status_code == 400


def test_webhooks_page_adds_shows_replays_and_removes(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        token = csrf_token(client, "/console/webhooks")
        added = client.post("/console/webhooks", data={
            "csrf_token": token, "url": "http://127.0.0.1:9/hooks",
            "events": ["customer.credit_balance_depleted"],
        })  # fmt: skip
        assert added.status_code == 303
        page = client.get("/console/webhooks").text
        secret = re.search(r'id="new-secret" type="text" readonly value="([^"]+)"', page)
        assert secret is not None and secret.group(1).startswith("whsec_")
        assert secret.group(1) not in client.get("/console/webhooks").text  # shown once
        customer = customers.create_customer({"name": "C", "email": "c@c.test"}).run(ctx)
        balance_alerts.create_alert(CustomerRef(id=customer.id), balance_alerts.NewAlert(
            "credits", "credit_balance_depleted")).run(ctx)  # fmt: skip
        _entry(ctx, CustomerRef(id=customer.id), entry_type="decrement", amount=Decimal(1))
        page = client.get("/console/webhooks").text
        assert "customer.credit_balance_depleted" in page and 'data-status="pending"' in page
        event_id = endpoints.outbox(ctx).deliveries[0].event_id
        replayed = client.post(f"/console/webhooks/events/{event_id}/replay",
                               data={"csrf_token": token})  # fmt: skip
        assert replayed.status_code == 303
        bad = client.post("/console/webhooks", data={"csrf_token": token, "url": "ftp://x"})
        assert bad.status_code == 400 and "must be an http(s) URL" in bad.text
        endpoint_id = endpoints.list_endpoints(ctx)[0].id
        removed = client.post(f"/console/webhooks/{endpoint_id}/remove",
                              data={"csrf_token": token})  # fmt: skip
        assert removed.status_code == 303
        assert endpoints.list_endpoints(ctx) == []


def test_customer_page_as_of_and_preview(tmp_path: Path) -> None:
    import time

    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        customer = customers.create_customer({"name": "D", "email": "d@d.test"}).run(ctx)
        ref = CustomerRef(id=customer.id)
        _entry(ctx, ref, entry_type="increment", amount=Decimal(30))
        _entry(ctx, ref, entry_type="increment", amount=Decimal(20), per_unit_cost_basis="1")
        then = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
        time.sleep(1.2)
        _entry(ctx, ref, entry_type="decrement", amount=Decimal(45))
        path = f"/console/customers/{customer.id}"
        assert '<span class="value" data-available="credits">5</span>' in client.get(path).text
        past = client.get(path, params={"as_of": then}).text
        assert f"as of {then}" in past
        assert '<span class="value" data-available="credits">50</span>' in past
        assert client.get(path, params={"as_of": "2999-01-01T00:00"}).status_code == 200
        assert "must not be in the future" in client.get(path, params={"as_of": "2999-01-01"}).text
        preview = client.get(path, params={"preview": "10"}).text
        rows = re.findall(r"<tr data-preview><td><code>(\w+)</code></td><td class=\"num\">"
                          r"([\d.]+)</td>", preview)  # fmt: skip
        assert [amount for _, amount in rows] == ["10"]  # the last drawable block takes the rest
        assert "Nothing was written" in preview
        assert "plain decimal" in client.get(path, params={"preview": "ten"}).text
        assert '<span class="value" data-available="credits">5</span>' in client.get(path).text
