"""The catalogue's use cases in-process with an injected clock, on SQLite and PostgreSQL: the
deducter prices with metrics' filters and with the version of each line in force; a price
from the API supersedes its line's version at once and never earlier; archiving an item
ends its prices; customer costs per day; concurrent versions of one line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from drawdown.ledger.dates import format_instant
from drawdown.services import customers
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.errors import ConstraintViolation, InvalidField
from drawdown.services.usage import catalogue, costs, deduct, ingest, items, metrics, prices
from drawdown.services.usage.price_input import PriceSpec
from drawdown.services.write_path import CustomerRef
from drawdown.store import catalogue as catalogue_store
from support.contexts import make_context

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[tuple[Any, Clock]]:
    clock = Clock()
    ctx = make_context(database_factory(request.param), clock, usage_grace_seconds=3600)
    yield ctx, clock
    ctx.db.close()


def _customer(ctx: Any) -> str:
    made = customers.create_customer(
        {"name": "A", "email": "a@example.com", "external_customer_id": "acme"}
    ).run(ctx)
    entries.create_entry(CustomerRef(id=made.id),
                         entry_request({"entry_type": "increment", "amount": Decimal(1000)})
                         ).run(ctx)  # fmt: skip
    return str(made.id)


def _events(ctx: Any, at: datetime, *props: dict[str, Any], name: str = "chat") -> None:
    batch = [{"idempotency_key": f"{format_instant(at, fractions=True)}-{i}", "event_name": name,
              "timestamp": at.isoformat(), "properties": p, "external_customer_id": "acme"}
             for i, p in enumerate(props)]  # fmt: skip
    assert isinstance(ingest.ingest(ctx, batch), ingest.Ingested)


def _drawn(ctx: Any, customer_id: str) -> dict[str, Decimal]:
    query = reads.EntryQuery("credits", "decrement", None, None, [], None, 1000)
    found: dict[str, Decimal] = {}
    for view in reads.list_entries(ctx, CustomerRef(id=customer_id), query):
        item = view.entry.metadata["usage_item_id"]
        found[item] = found.get(item, Decimal(0)) + view.entry.amount
    return found


def _price(ctx: Any, item_id: str, metric_id: str, rate: str) -> Any:
    spec = PriceSpec(item_id=item_id, currency="credits", unit_amount=Decimal(rate),
                     billable_metric_id=metric_id, name="p")  # fmt: skip
    return prices.create_price(ctx, spec).run(ctx)


def _metric(ctx: Any, item_id: str, sql: str) -> Any:
    return metrics.create_metric(ctx, {"name": "m", "sql": sql, "item_id": item_id}).run(ctx)


def test_the_deducter_prices_with_filters_and_versions(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    eu = items.create_item(ctx, {"name": "EU tokens"}, "eu").run(ctx)
    catalogue.add_item("all", "All chats").run(ctx)
    filtered = _metric(ctx, eu.id, "SELECT SUM(tokens) FROM events WHERE event_name = 'chat' "
                                   "AND region = 'eu'")  # fmt: skip
    v1 = _price(ctx, eu.id, filtered.id, "0.5")
    catalogue.add_price(ctx, item_id="all", event_name="chat", metric="count",
                        credits_per_unit="1").run(ctx)  # fmt: skip
    clock.now = T0 + timedelta(minutes=10)
    _events(ctx, clock.now, {"region": "eu", "tokens": 10}, {"region": "us", "tokens": 99})
    clock.now = T0 + timedelta(minutes=20)
    v2 = _price(ctx, eu.id, filtered.id, "2")  # supersedes v1 from now on
    assert v2.replaces_price_id == v1.id
    _events(ctx, clock.now, {"region": "eu", "tokens": 3})
    clock.now = T0 + timedelta(hours=2)
    deduct.deduct_due(ctx)
    # eu: 10 x 0.5 (v1) + 3 x 2 (v2); all: 3 chats x 1, whatever the region
    assert _drawn(ctx, customer_id) == {"eu": Decimal(11), "all": Decimal(3)}
    with ctx.db.read() as tx:
        old = catalogue_store.price(tx, v1.id)
    assert old is not None and old.version.effective_until == T0 + timedelta(minutes=20)


def test_archiving_an_item_ends_its_prices_from_then_on(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    catalogue.add_item("api", "API").run(ctx)
    catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                        credits_per_unit="1").run(ctx)  # fmt: skip
    later = T0 + timedelta(hours=5)
    catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                        credits_per_unit="7", effective_from=later).run(ctx)  # fmt: skip
    clock.now = T0 + timedelta(minutes=5)
    _events(ctx, clock.now, {})
    clock.now = T0 + timedelta(minutes=10)
    items.archive_item("api").run(ctx)
    _events(ctx, clock.now + timedelta(seconds=1), {})
    clock.now = T0 + timedelta(hours=6)  # the future version never starts either
    _events(ctx, clock.now - timedelta(minutes=1), {})
    clock.now = T0 + timedelta(hours=8)
    deduct.deduct_due(ctx)
    assert _drawn(ctx, customer_id) == {"api": Decimal(1)}
    with pytest.raises(Exception, match="archived"):
        catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                            credits_per_unit="1").run(ctx)  # fmt: skip


def test_a_version_never_starts_before_its_line_s_newest(env: tuple[Any, Clock]) -> None:
    ctx, _clock = env
    catalogue.add_item("api", "API").run(ctx)
    later = T0 + timedelta(hours=5)
    catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                        credits_per_unit="1", effective_from=later).run(ctx)  # fmt: skip
    with pytest.raises(InvalidField, match="must not be before") as info:
        catalogue.add_price(
            ctx,
            item_id="api",
            event_name="chat",
            metric="count",
            credits_per_unit="2",
            effective_from=T0 + timedelta(hours=1),
        ).run(ctx)
    assert info.value.field == "effective_from"
    # the same event name summed instead of counted is the same line: a new version of it
    version = catalogue.add_price(
        ctx,
        item_id="api",
        event_name="chat",
        metric="sum:n",
        credits_per_unit="3",
        effective_from=later,
    ).run(ctx)
    versions = {str(v.metric): v for v in catalogue.list_prices(ctx)}
    assert versions["count"].effective_until == later  # an empty window: the newer wins
    assert versions["sum:n"].effective_until is None
    with ctx.db.read() as tx:
        record = catalogue_store.price(tx, version.id)
        made = catalogue_store.metric(tx, record.billable_metric_id) if record else None
    assert made is not None and made.sql == "SELECT SUM(n) FROM events WHERE event_name = 'chat'"


def test_costs_per_day_cumulative_and_periodic(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    catalogue.add_item("api", "API").run(ctx)
    catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                        credits_per_unit="1").run(ctx)  # fmt: skip
    day = timedelta(days=1)
    for offset, count in ((timedelta(0), 2), (day, 1), (2 * day, 3)):
        clock.now = T0 + offset
        if offset == 2 * day:
            catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                                credits_per_unit="0.5").run(ctx)  # fmt: skip
        _events(ctx, clock.now, *[{} for _ in range(count)])
    ref = CustomerRef(id=customer_id)
    start = "2026-03-01"
    report = costs.customer_costs(ctx, ref, None, start, "2026-03-04", "cumulative")
    totals = [
        (
            format_instant(w.start, fractions=False)[:10],
            format_instant(w.end, fractions=False)[:10],
            w.total,
        )
        for w in report.windows
    ]
    assert totals == [("2026-03-01", "2026-03-02", 2), ("2026-03-01", "2026-03-03", 3),
                      ("2026-03-01", "2026-03-04", Decimal("4.5"))]  # fmt: skip
    assert len(report.windows[-1].costs) == 2  # two versions of the line priced usage
    periodic = costs.customer_costs(ctx, ref, "credits", start, "2026-03-04", "periodic")
    assert [w.total for w in periodic.windows] == [2, 1, Decimal("1.5")]
    clock.now = T0 + 2 * day
    default = costs.customer_costs(ctx, ref, None, None, None, None)
    assert (default.windows[0].start, default.windows[-1].end) == (
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))  # fmt: skip


def test_concurrent_versions_of_one_line_leave_one_open(env: tuple[Any, Clock]) -> None:
    ctx, _clock = env
    catalogue.add_item("api", "API").run(ctx)
    errors: list[BaseException] = []

    def add(rate: int) -> None:
        try:
            catalogue.add_price(ctx, item_id="api", event_name="chat", metric="count",
                                credits_per_unit=str(rate)).run(ctx)  # fmt: skip
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(rate,)) for rate in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = catalogue.list_prices(ctx)
    assert len(versions) == 8
    assert sum(v.effective_until is None for v in versions) == 1


def test_the_catalogue_stays_small(env: tuple[Any, Clock], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, _clock = env
    for table, limit in (("items", 1), ("metrics", 1), ("prices", 2)):
        monkeypatch.setitem(items.CATALOGUE_ROWS_MAX, table, limit)
    catalogue.add_item("a", "A").run(ctx)
    with pytest.raises(ConstraintViolation, match="at most 1 items"):
        catalogue.add_item("b", "B").run(ctx)

    def price(event_name: str, rate: str) -> Any:
        return catalogue.add_price(ctx, item_id="a", event_name=event_name, metric="count",
                                   credits_per_unit=rate).run(ctx)  # fmt: skip

    price("e", "1")
    with pytest.raises(ConstraintViolation, match="at most 1 metrics"):
        price("f", "1")
    price("e", "2")  # the same metric
    with pytest.raises(ConstraintViolation, match="at most 2 prices"):
        price("e", "3")
    assert len(catalogue.list_prices(ctx)) == 2
