"""Price evaluation and customer costs through the official SDK with strict response
validation, on SQLite and PostgreSQL: `prices.evaluate`, `evaluate_multiple`,
`evaluate_preview_events` and `customers.costs.list` (+ by external id) over ingested
events, priced as the deducter prices them; bad input is a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orb
import pytest
from rules_helpers import customer, rejected

from conftest import Server, unique

REFUSED = "400-request-validation-errors"


@pytest.fixture
def sdk(server: Server) -> Iterator[orb.Orb]:
    with server.client(_strict_response_validation=True) as client:
        yield client


class Setup:
    """A customer, an item, a metric summing `tokens` of EU `chat` events, and its price."""

    def __init__(self, client: orb.Orb) -> None:
        self.event_name = unique("chat")
        self.customer = customer(client)
        self.item = client.items.create(name="Tokens")
        sql = (f"SELECT SUM(tokens) FROM events WHERE event_name = '{self.event_name}' "
               "AND region = 'eu'")  # fmt: skip
        self.metric = client.metrics.create(name="EU tokens", sql=sql, item_id=self.item.id,
                                            description=None)  # fmt: skip
        self.alias = unique("tokens")
        self.price = client.prices.create(
            cadence="monthly", currency="credits", item_id=self.item.id, model_type="unit",
            name="Tokens", unit_config={"unit_amount": "0.01"}, billable_metric_id=self.metric.id,
            external_price_id=self.alias,
        )  # fmt: skip
        self.now = datetime.now(UTC)  # after the price: its events are priced by it
        self.window = {"timeframe_start": self.now - timedelta(minutes=30),
                       "timeframe_end": self.now + timedelta(minutes=10)}  # fmt: skip

    def event(self, tokens: Any, **props: Any) -> dict[str, Any]:
        return {"idempotency_key": unique("ev"), "event_name": self.event_name,
                "timestamp": self.now.isoformat(), "customer_id": self.customer.id,
                "properties": {"tokens": tokens, **props}}  # fmt: skip


@pytest.fixture
def setup(sdk: orb.Orb) -> Setup:
    made = Setup(sdk)
    sdk.events.ingest(events=[
        made.event(100, region="eu", model="small"),
        made.event(250, region="eu", model="large"),
        made.event(50, region="eu", model="small"),
        made.event(1000, region="us", model="small"),  # the metric's filter refuses it
        made.event("n/a", region="eu", model="small"),  # counted, summing 0
    ])  # fmt: skip
    return made


def _groups(groups: Any) -> dict[tuple[Any, ...], tuple[str, Decimal]]:
    return {tuple(g.grouping_values): (g.amount, Decimal(str(g.quantity))) for g in groups}


def test_evaluate_one_price_grouped_and_filtered(sdk: orb.Orb, setup: Setup) -> None:
    whole = sdk.prices.evaluate(setup.price.id, customer_id=setup.customer.id, **setup.window)
    assert _groups(whole.data) == {(): ("4", Decimal(400))}
    by_model = sdk.prices.evaluate(setup.price.id, customer_id=setup.customer.id,
                                   grouping_keys=["model"], **setup.window)  # fmt: skip
    assert _groups(by_model.data) == {("small",): ("1.5", Decimal(150)),
                                      ("large",): ("2.5", Decimal(250))}  # fmt: skip
    large = sdk.prices.evaluate(setup.price.id, filter="model = 'large'",
                                external_customer_id=setup.customer.external_customer_id,
                                **setup.window)  # fmt: skip
    assert _groups(large.data) == {(): ("2.5", Decimal(250))}
    before = {"timeframe_start": setup.now - timedelta(hours=2),
              "timeframe_end": setup.now - timedelta(hours=1)}  # fmt: skip
    assert sdk.prices.evaluate(setup.price.id, customer_id=setup.customer.id, **before).data == []


def test_evaluate_multiple_by_id_alias_and_inline(sdk: orb.Orb, setup: Setup) -> None:
    inline = {"cadence": "monthly", "currency": "credits", "item_id": setup.item.id,
              "model_type": "unit", "name": "What if", "unit_config": {"unit_amount": "1"},
              "billable_metric_id": setup.metric.id}  # fmt: skip
    result = sdk.prices.evaluate_multiple(
        customer_id=setup.customer.id, **setup.window, price_evaluations=[
            {"price_id": setup.price.id, "grouping_keys": ["model"]},
            {"external_price_id": setup.alias, "filter": "model = 'small'"},
            {"price": inline},
        ],
    )  # fmt: skip
    by_id, by_alias, what_if = result.data
    assert (by_id.price_id, by_id.external_price_id, by_id.inline_price_index) == (
        setup.price.id, setup.alias, None)  # fmt: skip
    assert _groups(by_id.price_groups) == {("small",): ("1.5", Decimal(150)),
                                           ("large",): ("2.5", Decimal(250))}  # fmt: skip
    assert _groups(by_alias.price_groups) == {(): ("1.5", Decimal(150))}
    assert (what_if.price_id, what_if.inline_price_index, what_if.currency) == (None, 2, "credits")
    assert _groups(what_if.price_groups) == {(): ("400", Decimal(400))}


def test_evaluate_preview_events(server: Server, sdk: orb.Orb, setup: Setup) -> None:
    before = server.snapshot()
    events = [{"event_name": setup.event_name, "properties": {"tokens": 7, "region": "eu"},
               "timestamp": setup.now.isoformat()},
              {"event_name": setup.event_name, "properties": {"tokens": 5, "region": "eu"},
               "timestamp": setup.now.isoformat(), "customer_id": setup.customer.id},
              {"event_name": setup.event_name, "properties": {"tokens": 9, "region": "eu"},
               "timestamp": (setup.now - timedelta(hours=5)).isoformat()}]  # fmt: skip
    result = sdk.prices.evaluate_preview_events(
        customer_id=setup.customer.id, **setup.window, events=events,
        price_evaluations=[{"price_id": setup.price.id}],
    )  # fmt: skip
    [data] = result.data
    assert _groups(data.price_groups) == {(): ("0.12", Decimal(12))}  # the stored 400 ignored
    assert server.snapshot() == before


def test_customer_costs_per_day_and_price(sdk: orb.Orb, setup: Setup) -> None:
    tz_today = setup.now.date()  # the customer's timezone is UTC
    start = (tz_today - timedelta(days=2)).isoformat()
    cumulative = sdk.customers.costs.list(setup.customer.id, timeframe_start=start)
    assert [w.timeframe_start.date() for w in cumulative.data] == [tz_today - timedelta(2)] * 3
    assert [w.timeframe_end.date() for w in cumulative.data] == [
        tz_today - timedelta(1), tz_today, tz_today + timedelta(1)]  # fmt: skip
    empty, _, today = cumulative.data
    assert (empty.per_price_costs, empty.subtotal, empty.total) == ([], "0", "0")
    [cost] = today.per_price_costs
    assert (cost.price_id, cost.subtotal, cost.total, cost.quantity) == (
        setup.price.id, "4", "4", 400)  # fmt: skip
    assert cost.price.id == setup.price.id and (today.subtotal, today.total) == ("4", "4")
    periodic = sdk.customers.costs.list_by_external_id(
        setup.customer.external_customer_id, timeframe_start=start, view_mode="periodic"
    )
    assert [w.timeframe_start.date() for w in periodic.data] == [
        tz_today - timedelta(2), tz_today - timedelta(1), tz_today]  # fmt: skip
    assert [w.total for w in periodic.data] == ["0", "0", "4"]
    assert sdk.customers.costs.list(setup.customer.id, currency="gpu_hours").data[-1].total == "0"
    default = sdk.customers.costs.list(setup.customer.id)
    assert default.data[0].timeframe_start.day == 1 and default.data[-1].total == "4"


def test_bad_evaluations_are_refused(server: Server, sdk: orb.Orb, setup: Setup) -> None:
    ref = {"customer_id": setup.customer.id}

    def field_of(call: Any, *args: Any, **kw: Any) -> str:
        return str(rejected(server, orb.BadRequestError, REFUSED, call, *args,
                            **kw)["validation_errors"][0]["field"])  # fmt: skip

    backwards = {"timeframe_start": setup.now, "timeframe_end": setup.now - timedelta(hours=1)}
    assert field_of(sdk.prices.evaluate, setup.price.id, **ref, **backwards) == "timeframe_end"
    assert field_of(sdk.prices.evaluate, setup.price.id, **ref, timeframe_start="yesterday",
                    timeframe_end=setup.now) == "timeframe_start"  # fmt: skip
    assert field_of(sdk.prices.evaluate, setup.price.id, **setup.window) == "customer_id"
    assert field_of(sdk.prices.evaluate, setup.price.id, **ref, **setup.window,
                    filter="model = 'a' OR model = 'b'") == "filter"  # fmt: skip
    assert field_of(sdk.prices.evaluate, setup.price.id, **ref, **setup.window,
                    grouping_keys=["hour_floor_timestamp_millis(timestamp_millis)"]) == (
        "grouping_keys.0")  # fmt: skip
    assert field_of(sdk.prices.evaluate_multiple, **ref, **setup.window, price_evaluations=[
        {"price_id": setup.price.id, "external_price_id": setup.alias}]) == (
        "price_evaluations.0.price_id")  # fmt: skip
    tiered = {"cadence": "monthly", "currency": "credits", "item_id": setup.item.id,
              "model_type": "tiered", "name": "t", "tiered_config": {"tiers": []}}  # fmt: skip
    assert field_of(sdk.prices.evaluate_multiple, **ref, **setup.window,
                    price_evaluations=[{"price": tiered}]) == (
        "price_evaluations.0.price.model_type")  # fmt: skip
    other = customer(sdk)
    stranger = {"event_name": "x", "properties": {}, "timestamp": setup.now.isoformat(),
                "customer_id": other.id}  # fmt: skip
    assert (
        field_of(
            sdk.prices.evaluate_preview_events,
            **ref,
            **setup.window,
            events=[stranger],
            price_evaluations=[],
        )
        == "events.0.customer_id"
    )
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.prices.evaluate,
             "no-such-price", **ref, **setup.window)  # fmt: skip
    rejected(server, orb.NotFoundError, "404-resource-not-found", sdk.prices.evaluate,
             setup.price.id, customer_id="nobody", **setup.window)  # fmt: skip


def test_bad_cost_queries_are_refused(server: Server, sdk: orb.Orb) -> None:
    who = customer(sdk)
    now = datetime.now(UTC)

    def field_of(**kw: Any) -> str:
        return str(rejected(server, orb.BadRequestError, REFUSED, sdk.customers.costs.list,
                            who.id, **kw)["validation_errors"][0]["field"])  # fmt: skip

    assert field_of(timeframe_start=now, timeframe_end=now - timedelta(days=1)) == (
        "timeframe_end")  # fmt: skip
    assert field_of(timeframe_start=now - timedelta(days=200), timeframe_end=now) == (
        "timeframe_start")  # fmt: skip
    assert field_of(timeframe_start="soon") == "timeframe_start"
    assert field_of(view_mode="weekly") == "view_mode"
    rejected(server, orb.NotFoundError, "404-resource-not-found",
             sdk.customers.costs.list_by_external_id, "nobody")  # fmt: skip
