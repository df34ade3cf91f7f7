"""The console's usage parts in-process: the usage page adds items and prices (refusing bad
ones with the field's message), a customer's page shows which items each block applies
to and the usage accepted but not yet deducted, and an event's page amends or deprecates
it (CSRF-checked, Orb's rules, the ledger corrected once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from console_helpers import console_app, csrf_token, sign_in

from drawdown.services import customers
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.usage import catalogue, deduct, ingest, metrics
from drawdown.services.write_path import CustomerRef


def test_usage_page_adds_items_and_prices(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        token = csrf_token(client, "/console/usage")
        added = client.post(
            "/console/usage/items", data={"csrf_token": token, "item_id": "gpu", "name": "GPU time"}
        )
        assert added.status_code == 303
        again = client.post(
            "/console/usage/items", data={"csrf_token": token, "item_id": "gpu", "name": "Other"}
        )
        assert again.status_code == 400 and "exists already" in again.text
        price = {
            "csrf_token": token,
            "item_id": "gpu",
            "event_name": "gpu_job",
            "metric": "sum:seconds",
            "credits_per_unit": "0.25",
        }
        assert client.post("/console/usage/prices", data=price).status_code == 303
        bad = client.post("/console/usage/prices", data={**price, "metric": "max:seconds"})
        assert bad.status_code == 400 and "count or sum:PROPERTY" in bad.text
        page = client.get("/console/usage").text
        assert 'data-item="gpu"' in page and "<code>sum:seconds</code>" in page
        assert [p.credits_per_unit for p in catalogue.list_prices(ctx)] == [Decimal("0.25")]


def test_customer_page_shows_filters_and_pending_usage(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        catalogue.add_item("gpu", "GPU time").run(ctx)
        catalogue.add_price(
            ctx, item_id="gpu", event_name="gpu_job", metric="sum:seconds", credits_per_unit="0.25"
        ).run(ctx)
        customer = customers.create_customer({"name": "Acme", "email": "a@acme.test"}).run(ctx)
        only_gpu = [{"field": "item_id", "operator": "includes", "values": ["gpu"]}]
        entries.create_entry(
            CustomerRef(id=customer.id),
            entry_request({"entry_type": "increment", "amount": Decimal(10), "filters": only_gpu}),
        ).run(ctx)
        path = f"/console/customers/{customer.id}"
        assert "No usage waiting to be deducted." in client.get(path).text
        now = datetime.now(UTC).isoformat()
        ingest.ingest(
            ctx,
            [
                {
                    "idempotency_key": "j1",
                    "event_name": "gpu_job",
                    "timestamp": now,
                    "customer_id": customer.id,
                    "properties": {"seconds": 6},
                }
            ],
        )
        page = client.get(path).text
        assert "only gpu" in page
        assert 'data-pending-item="gpu"' in page and "1.5" in page


def test_usage_page_adds_metrics_prices_of_them_and_archives_items(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        token = csrf_token(client, "/console/usage")
        client.post("/console/usage/items", data={"csrf_token": token, "item_id": "chat",
                                                  "name": "Chat"})  # fmt: skip
        sql = "SELECT SUM(tokens) FROM events WHERE event_name = 'chat' AND region = 'eu'"
        metric = {"csrf_token": token, "item_id": "chat", "name": "EU tokens", "sql": sql}
        assert client.post("/console/usage/metrics", data=metric).status_code == 303
        bad = client.post("/console/usage/metrics", data={**metric, "sql": "SELECT 1"})
        assert bad.status_code == 400 and "drawdown supports SELECT COUNT(*)" in bad.text
        [made] = metrics.list_metrics(ctx, None, [], None, 10)
        price = {"csrf_token": token, "item_id": "chat", "billable_metric_id": made.id,
                 "credits_per_unit": "0.01"}  # fmt: skip
        assert client.post("/console/usage/prices", data=price).status_code == 303
        page = client.get("/console/usage").text
        assert f'data-metric="{made.id}"' in page and "region = eu" in page
        [version] = catalogue.list_prices(ctx)
        assert version.metric.filters == (("region", "eu"),)
        archive = {"csrf_token": token, "item_id": "chat"}
        assert client.post("/console/usage/items/archive", data=archive).status_code == 303
        again = client.post("/console/usage/items/archive", data=archive)
        assert again.status_code == 400 and "archived already" in again.text
        assert catalogue.list_prices(ctx)[0].effective_until is not None


def test_an_admin_amends_and_deprecates_an_event(tmp_path: Path) -> None:
    with console_app(tmp_path) as (client, ctx):
        sign_in(client)
        catalogue.add_item("gpu", "GPU time").run(ctx)
        catalogue.add_price(
            ctx, item_id="gpu", event_name="gpu_job", metric="sum:seconds", credits_per_unit="0.25"
        ).run(ctx)
        customer = customers.create_customer({"name": "Acme", "email": "a@acme.test"}).run(ctx)
        ref = CustomerRef(id=customer.id)
        entries.create_entry(
            ref, entry_request({"entry_type": "increment", "amount": Decimal(10)})
        ).run(ctx)
        at = datetime.now(UTC)
        event = {"idempotency_key": "j1", "event_name": "gpu_job", "timestamp": at.isoformat(),
                 "customer_id": customer.id, "properties": {"seconds": 8}}  # fmt: skip
        ingest.ingest(ctx, [event])
        deduct.deduct_due(ctx, before=at + timedelta(seconds=1))  # its usage is in the ledger
        page = client.get("/console/usage/events", params={"event_id": "j1"})
        assert page.status_code == 200 and 'data-status="live"' in page.text
        token = csrf_token(client, "/console/usage/events?event_id=j1")
        form = {"csrf_token": token, "event_id": "j1", "customer_id": customer.id,
                "event_name": "gpu_job", "timestamp": at.isoformat()}  # fmt: skip
        bad = client.post("/console/usage/events/amend", data={**form, "properties": "{oops"})
        assert bad.status_code == 400 and "must be a JSON object" in bad.text
        moved = {**form, "timestamp": (at + timedelta(seconds=1)).isoformat(), "properties": "{}"}
        refused = client.post("/console/usage/events/amend", data=moved)
        assert refused.status_code == 400 and "timestamp" in refused.text
        forged = client.post("/console/usage/events/amend",
                             data={**form, "csrf_token": "x", "properties": "{}"})  # fmt: skip
        assert forged.status_code == 403
        assert _balance(ctx, customer.id) == 8  # 8 s x 0.25: nothing changed so far
        done = client.post("/console/usage/events/amend",
                           data={**form, "properties": '{"seconds": 20}'})  # fmt: skip
        assert done.status_code == 303 and "notice=amended" in done.headers["location"]
        assert _balance(ctx, customer.id) == 5  # 3 more credits drawn
        gone = client.post("/console/usage/events/deprecate",
                           data={"csrf_token": token, "event_id": "j1",
                                 "customer_id": customer.id})  # fmt: skip
        assert gone.status_code == 303
        assert _balance(ctx, customer.id) == 10  # all of it refunded
        page = client.get(gone.headers["location"]).text
        assert "Event deprecated" in page and 'data-status="deprecated"' in page
        assert "Amend event" not in page  # a deprecated event cannot be amended
        missing = client.get("/console/usage/events", params={"event_id": "nope"})
        assert "Could not find a resource of type Event" in missing.text


def _balance(ctx: Any, customer_id: str) -> Decimal:
    query = reads.EntryQuery(None, None, None, None, [], None, 1)
    newest = reads.list_entries(ctx, CustomerRef(id=customer_id), query)[0].entry
    return Decimal(newest.ending_balance)
