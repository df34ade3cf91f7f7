"""The price catalogue through the official SDK with strict response validation, on SQLite
and PostgreSQL: `items.*`, `metrics.*` and `prices.*` (create, fetch, update, list, by
external id), a new price of a line superseding the old one, and bad input refused with the
field named and nothing written. Evaluation and costs: tests/api/test_price_evaluation.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orb
import pytest
from rules_helpers import rejected

from conftest import Server, run_cli, unique

COUNT_SQL = "SELECT COUNT(*) FROM events WHERE event_name = '{}'"


@pytest.fixture
def sdk(server: Server) -> Iterator[orb.Orb]:
    with server.client(_strict_response_validation=True) as client:
        yield client


def unit_price(item_id: str, metric_id: str, amount: str = "0.5", **kw: Any) -> dict[str, Any]:
    return {"cadence": "monthly", "currency": "credits", "item_id": item_id, "model_type": "unit",
            "name": "API calls", "unit_config": {"unit_amount": amount},
            "billable_metric_id": metric_id, **kw}  # fmt: skip


def catalogue(client: orb.Orb, sql: str | None = None) -> tuple[Any, Any]:
    """A new item and a metric counting a new event name for it."""
    item = client.items.create(name="API calls")
    metric = client.metrics.create(name="calls", sql=sql or COUNT_SQL.format(unique("call")),
                                   item_id=item.id, description=None)  # fmt: skip
    return item, metric


def test_items_are_created_fetched_updated_listed_and_archived(
    server: Server, sdk: orb.Orb
) -> None:
    item = sdk.items.create(name="GPU time", metadata={"team": "ml", "gone": None})
    assert (item.name, item.metadata, item.external_connections, item.archived_at) == (
        "GPU time", {"team": "ml"}, [], None)  # fmt: skip
    assert len(item.id) == 16 and sdk.items.fetch(item.id) == item
    stripe = {"external_connection_name": "stripe", "external_entity_id": "prod_1"}
    updated = sdk.items.update(item.id, name="GPU", metadata={"team": None, "tier": "1"},
                               external_connections=[stripe])  # fmt: skip
    assert (updated.name, updated.metadata) == ("GPU", {"tier": "1"})
    assert [c.model_dump() for c in updated.external_connections] == [stripe]
    assert sdk.items.update(item.id, metadata={"x": "y"}).name == "GPU"  # not sent: kept
    newer = sdk.items.create(name="Newer")
    first = sdk.items.list(limit=1)
    assert [i.id for i in first.data] == [newer.id] and first.has_next_page()
    assert [i.id for i in first.get_next_page().data] == [item.id]
    archived = sdk.items.archive(item.id)
    assert archived.archived_at is not None and archived.name == "GPU"
    rejected(server, orb.BadRequestError, "400-constraint-violation", sdk.items.archive, item.id)
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.items.fetch, "nope")


def test_bad_items_are_refused_with_the_field(server: Server, sdk: orb.Orb) -> None:
    item = sdk.items.create(name="Item")
    body = rejected(server, orb.BadRequestError, "400-request-validation-errors",
                    sdk.items.create, name="  ")  # fmt: skip
    assert body["validation_errors"][0]["field"] == "name"
    body = rejected(server, orb.BadRequestError, "400-request-validation-errors",
                    sdk.items.update, item.id, name=None)  # fmt: skip
    assert body["validation_errors"][0]["field"] == "name"
    bad = [{"external_connection_name": "ledgerly", "external_entity_id": "x"}]
    body = rejected(server, orb.BadRequestError, "400-request-validation-errors",
                    sdk.items.update, item.id, external_connections=bad)  # fmt: skip
    assert (
        body["validation_errors"][0]["field"] == "external_connections.0.external_connection_name"
    )
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.items.update, "nope",
             name="x")  # fmt: skip


def test_metrics_in_the_sql_subset(server: Server, sdk: orb.Orb) -> None:
    item = sdk.items.create(name="Storage")
    sql = "SELECT SUM(bytes) FROM events WHERE event_name = 'stored' AND region = 'eu'"
    metric = sdk.metrics.create(name="EU bytes", sql=sql, item_id=item.id,
                                description="Bytes stored in the EU",
                                metadata={"k": "v"})  # fmt: skip
    assert (metric.name, metric.sql, metric.status, metric.description, metric.metadata) == (
        "EU bytes", sql, "active", "Bytes stored in the EU", {"k": "v"})  # fmt: skip
    assert metric.item.id == item.id and metric.parameter_definitions is None
    assert sdk.metrics.fetch(metric.id) == metric
    changed = sdk.metrics.update(metric.id, name="EU storage", description=None,
                                 metadata={"k": None})  # fmt: skip
    assert (changed.name, changed.description, changed.metadata, changed.sql) == (
        "EU storage", None, {}, sql)  # fmt: skip
    assert sdk.metrics.archive(metric.id).status == "archived"
    listed = {m.id for m in sdk.metrics.list(status="archived", limit=100).data}
    assert metric.id in listed
    assert metric.id not in {m.id for m in sdk.metrics.list(status="active", limit=100).data}
    rejected(server, orb.BadRequestError, "400-constraint-violation", sdk.metrics.archive,
             metric.id)  # fmt: skip
    assert sdk.metrics.unarchive(metric.id).status == "active"
    since = sdk.metrics.list(created_at_gte=metric.item.created_at, limit=100).data
    assert metric.id in {m.id for m in since}


@pytest.mark.parametrize("sql", [
    "SELECT MAX(bytes) FROM events WHERE event_name = 'x'",
    "SELECT COUNT(*) FROM events WHERE event_name = 'x' OR region = 'eu'",
    "SELECT COUNT(*) FROM events",
    "SELECT COUNT(*) FROM events WHERE event_name = 'x' GROUP BY region",
])  # fmt: skip
def test_unsupported_metric_sql_is_a_400_on_sql(server: Server, sdk: orb.Orb, sql: str) -> None:
    item = sdk.items.create(name="Item")
    body = rejected(server, orb.BadRequestError, "400-request-validation-errors",
                    sdk.metrics.create, name="m", sql=sql, item_id=item.id,
                    description=None)  # fmt: skip
    [error] = body["validation_errors"]
    assert error["field"] == "sql" and "drawdown supports SELECT COUNT(*)" in error["message"]


def test_bad_metrics_are_refused(server: Server, sdk: orb.Orb) -> None:
    item, metric = catalogue(sdk)
    sql = COUNT_SQL.format("x")
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.metrics.create,
             name="m", sql=sql, item_id="no-such-item", description=None)  # fmt: skip
    body = rejected(
        server,
        orb.BadRequestError,
        "400-request-validation-errors",
        sdk.metrics.create,
        name="",
        sql=sql,
        item_id=item.id,
        description=None,
    )
    assert body["validation_errors"][0]["field"] == "name"
    body = rejected(server, orb.BadRequestError, "400-request-validation-errors",
                    sdk.metrics.update, metric.id, name=" ")  # fmt: skip
    assert body["validation_errors"][0]["field"] == "name"
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.metrics.fetch, "nope")
    sdk.items.archive(item.id)
    body = rejected(
        server,
        orb.BadRequestError,
        "400-constraint-violation",
        sdk.metrics.create,
        name="m",
        sql=sql,
        item_id=item.id,
        description=None,
    )
    assert "archived" in body["detail"]


def test_unit_prices_and_their_versions(server: Server, sdk: orb.Orb) -> None:
    item, metric = catalogue(sdk)
    alias = unique("price")
    first = sdk.prices.create(**unit_price(item.id, metric.id, external_price_id=alias,
                                           metadata={"plan": "a"}))  # fmt: skip
    assert first.price_model_type == "unit" and first.price_type == "usage_price"
    assert (first.currency, first.cadence, first.billing_mode) == ("credits", "monthly",
                                                                   "in_arrear")  # fmt: skip
    assert first.unit_config.unit_amount == "0.5" and first.item.id == item.id
    assert first.billable_metric is not None and first.billable_metric.id == metric.id
    assert (first.external_price_id, first.metadata, first.replaces_price_id) == (
        alias, {"plan": "a"}, None)  # fmt: skip
    assert first.billing_cycle_configuration.model_dump() == {
        "duration": 1,
        "duration_unit": "month",
    }
    assert sdk.prices.fetch(first.id) == first
    assert sdk.prices.external_price_id.fetch(alias) == first
    second = sdk.prices.create(**unit_price(item.id, metric.id, "0.75", cadence="annual"))
    assert second.replaces_price_id == first.id
    assert second.billing_cycle_configuration.duration == 12
    assert sdk.prices.update(first.id, metadata={"plan": None, "x": "1"}).metadata == {"x": "1"}
    by_alias = sdk.prices.external_price_id.update(alias, metadata={"y": "2"})
    assert by_alias.metadata == {"x": "1", "y": "2"} and by_alias.unit_config.unit_amount == "0.5"
    newest = sdk.prices.list(limit=2).data
    assert [p.id for p in newest] == [second.id, first.id]
    custom = sdk.prices.create(**unit_price(
        item.id, catalogue(sdk)[1].id, cadence="custom",
        billing_cycle_configuration={"duration": 10, "duration_unit": "day"}))  # fmt: skip
    assert custom.billing_cycle_configuration.model_dump() == {
        "duration": 10,
        "duration_unit": "day",
    }


def test_bad_prices_are_refused_and_write_nothing(server: Server, sdk: orb.Orb) -> None:
    item, metric = catalogue(sdk)
    alias = unique("price")
    sdk.prices.create(**unit_price(item.id, metric.id, external_price_id=alias))
    refused = "400-request-validation-errors"

    def field_of(**body: Any) -> str:
        found = rejected(server, orb.BadRequestError, refused, sdk.prices.create, **body)
        return str(found["validation_errors"][0]["field"])

    tiered = {**unit_price(item.id, metric.id), "model_type": "tiered",
              "tiered_config": {"tiers": [{"first_unit": 0, "unit_amount": "1"}]}}  # fmt: skip
    tiered.pop("unit_config")
    assert field_of(**tiered) == "model_type"
    assert field_of(**unit_price(item.id, metric.id, currency="USD")) == "currency"
    assert field_of(**unit_price(item.id, metric.id, amount="-1")) == "unit_config.unit_amount"
    assert field_of(**unit_price(item.id, metric.id, amount="x")) == "unit_config.unit_amount"
    assert field_of(**unit_price(item.id, None)) == "billable_metric_id"  # type: ignore[arg-type]
    assert field_of(**unit_price(item.id, metric.id, conversion_rate=2)) == "conversion_rate"
    assert field_of(**unit_price(item.id, metric.id, cadence="custom")) == (
        "billing_cycle_configuration")  # fmt: skip
    assert field_of(**unit_price(item.id, metric.id, billed_in_advance=True)) == (
        "billed_in_advance")  # fmt: skip
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.prices.create,
             **unit_price("no-such-item", metric.id))  # fmt: skip
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.prices.create,
             **unit_price(item.id, "no-such-metric"))  # fmt: skip
    rejected(server, orb.BadRequestError, "400-duplicate-resource-creation", sdk.prices.create,
             **unit_price(item.id, metric.id, external_price_id=alias))  # fmt: skip
    body = rejected(
        server,
        orb.BadRequestError,
        refused,
        sdk.prices.update,
        sdk.prices.external_price_id.fetch(alias).id,
        metadata={"k" * 100: "v"},
    )
    assert body["validation_errors"][0]["field"].startswith("metadata")
    rejected(server, orb.NotFoundError, "404-resource-not-found",
             sdk.prices.external_price_id.fetch, "no-such-alias")  # fmt: skip
    sdk.metrics.archive(metric.id)
    rejected(server, orb.BadRequestError, "400-constraint-violation", sdk.prices.create,
             **unit_price(item.id, metric.id))  # fmt: skip


def test_archiving_an_item_ends_its_prices_but_keeps_them_listed(sdk: orb.Orb) -> None:
    item, metric = catalogue(sdk)
    price = sdk.prices.create(**unit_price(item.id, metric.id))
    sdk.items.archive(item.id)
    assert sdk.prices.fetch(price.id) == price  # Orb's Price has no archived state to show
    with pytest.raises(orb.BadRequestError):
        sdk.prices.create(**unit_price(item.id, metric.id))


def test_the_cli_and_the_api_share_one_catalogue(sdk: orb.Orb, server: Server) -> None:
    item_id = unique("cli/item")  # an operator's id, `/` included
    run_cli(server.database_url, "items", "add", item_id, "--name", "From the CLI")
    event_name = unique("cli")
    run_cli(server.database_url, "prices", "add", "--item", item_id, "--event-name", event_name,
            "--metric", "sum:seconds", "--credits-per-unit", "0.25")  # fmt: skip
    assert sdk.items.fetch(item_id).name == "From the CLI"
    [price] = [p for p in sdk.prices.list(limit=100).data if p.item.id == item_id]
    assert (price.name, price.unit_config.unit_amount, price.cadence) == (
        "From the CLI", "0.25", "monthly")  # fmt: skip
    assert price.billable_metric is not None
    metric = sdk.metrics.fetch(price.billable_metric.id)
    assert metric.sql == f"SELECT SUM(seconds) FROM events WHERE event_name = '{event_name}'"
    newer = sdk.prices.create(**unit_price(item_id, metric.id, "0.5"))
    assert newer.replaces_price_id == price.id  # the API's price is the line's next version


def test_a_retried_create_is_answered_once(server: Server, sdk: orb.Orb) -> None:
    item, metric = catalogue(sdk)
    key = unique("retry")
    first = sdk.prices.create(**unit_price(item.id, metric.id), idempotency_key=key)
    before = server.snapshot()
    again = sdk.prices.create(**unit_price(item.id, metric.id), idempotency_key=key)
    assert again == first and server.snapshot() == before
