"""Pricing with the catalogue's lines (filters, effective windows) and what it comes to:
`Evaluation` (one price over events, grouped) and `Costs` (per day and version)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from drawdown.ledger.evaluation import Costs, Evaluation, TooManyGroups, day_edges
from drawdown.ledger.usage import (
    Catalogue,
    ChargeKey,
    Metric,
    PriceVersion,
    UsageEvent,
    admits,
    filters_text,
    parse_filters_text,
    price_events,
    quantity,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EU = (("region", "eu"),)


def _version(pid: str, rate: str, start: datetime, *, until: datetime | None = None,
             metric: Metric = Metric("count"), item: str = "api") -> PriceVersion:  # fmt: skip
    return PriceVersion(pid, item, "call", "credits", metric, Decimal(rate), start, until)


def _event(key: str, minutes: float, **props: object) -> UsageEvent:
    return UsageEvent(key, "call", T0 + timedelta(minutes=minutes), props)


def test_filters_match_by_value_and_type() -> None:
    metric = Metric("count", None, (("n", Decimal(1)), ("region", "eu"), ("vip", True)))
    assert admits(metric, {"region": "eu", "n": 1, "vip": True, "other": "x"})
    assert admits(metric, {"region": "eu", "n": Decimal("1.0"), "vip": True})
    assert not admits(metric, {"region": "eu", "n": "1", "vip": True})  # text is not a number
    assert not admits(metric, {"region": "eu", "n": 1, "vip": 1})  # a number is not a boolean
    assert not admits(Metric("count", None, (("n", Decimal(1)),)), {"n": True})
    assert not admits(metric, {"region": "eu", "n": 1})  # missing
    assert quantity(Metric("sum", "s", EU), {"region": "us", "s": 5}) == 0
    assert quantity(Metric("sum", "s", EU), {"region": "eu", "s": 5}) == 5


def test_filters_text_is_canonical_and_round_trips() -> None:
    filters = (("a", 'x"y'), ("b", Decimal("1.50")), ("c", False))
    assert filters_text(filters) == '[["a","x\\"y"],["b",1.5],["c",false]]'
    assert parse_filters_text(filters_text(filters)) == filters
    assert filters_text(()) == "[]"


def test_lines_with_different_filters_all_price_an_event_they_admit() -> None:
    eu = _version("eu", "2", T0, metric=Metric("count", None, EU))
    everyone = _version("all", "1", T0)
    catalogue = Catalogue([eu, everyone])
    found = catalogue.prices_for(_event("e", 1, region="eu"))
    assert sorted(v.id for v in found) == ["all", "eu"]
    assert [v.id for v in catalogue.prices_for(_event("u", 1, region="us"))] == ["all"]
    charges = price_events([_event("e", 1, region="eu"), _event("u", 1)], catalogue)
    assert charges[ChargeKey("credits", "api")].amount == 4  # 2 + 1 for eu, 1 for the other
    assert charges[ChargeKey("credits", "api")].events == 3  # one per (event, price)


def test_effective_until_ends_a_version_and_ties_go_to_the_newer() -> None:
    old = _version("old", "1", T0, until=T0 + timedelta(minutes=10))
    new = _version("new", "2", T0 + timedelta(minutes=10))
    gone = _version("gone", "5", T0 + timedelta(minutes=20), until=T0 + timedelta(minutes=20))
    catalogue = Catalogue([new, old, gone])
    at = [catalogue.prices_at("call", T0 + timedelta(minutes=m)) for m in (-1, 0, 9, 10, 30)]
    assert [[v.id for v in found] for found in at] == [[], ["old"], ["old"], ["new"], ["new"]]
    archived = Catalogue([_version("a", "1", T0, until=T0 + timedelta(minutes=5))])
    assert archived.prices_at("call", T0 + timedelta(minutes=5)) == []


def test_evaluation_groups_add_up_and_keep_types_apart() -> None:
    run = Evaluation("call", Metric("sum", "n", EU), Decimal("0.5"), extra=(("tier", "a"),),
                     grouping_keys=["user"])  # fmt: skip
    run.add([
        _event("1", 0, region="eu", tier="a", user="u1", n=2),
        _event("2", 0, region="eu", tier="a", user="u1", n=Decimal("1.5")),
        _event("3", 0, region="eu", tier="a", user=True, n=1),
        _event("4", 0, region="eu", tier="a", user=1, n=1),
        _event("5", 0, region="eu", tier="a", n=4),
        _event("6", 0, region="us", tier="a", user="u1", n=100),  # metric filter refuses
        _event("7", 0, region="eu", tier="b", user="u1", n=100),  # evaluate filter refuses
        UsageEvent("8", "other", T0, {"region": "eu", "tier": "a", "n": 100}),
    ])  # fmt: skip
    groups = {values: (u.quantity, u.amount, u.events) for values, u in run.groups()}
    assert groups == {
        ("u1",): (Decimal("3.5"), Decimal("1.75"), 2),
        (True,): (1, Decimal("0.5"), 1),
        (Decimal(1),): (1, Decimal("0.5"), 1),
        ("",): (4, 2, 1),
    }


def test_evaluation_refuses_too_many_groups() -> None:
    run = Evaluation("call", Metric("count"), Decimal(1), grouping_keys=["u"], groups_max=3)
    with pytest.raises(TooManyGroups) as info:
        run.add([_event(str(i), 0, u=str(i)) for i in range(4)])
    assert info.value.field == "grouping_keys"


def test_costs_per_window_and_version_cumulative_and_periodic() -> None:
    day = timedelta(days=1)
    start = T0.replace(hour=0)
    old = _version("old", "1", start, until=start + day + timedelta(hours=12))
    new = _version("new", "3", start + day + timedelta(hours=12))
    edges = day_edges(start, start + 3 * day, "UTC")
    costs = Costs(Catalogue([old, new]), edges)
    costs.add([UsageEvent(str(h), "call", start + timedelta(hours=h), {}) for h in (1, 30, 40)])
    costs.add([UsageEvent("late", "call", start + 3 * day, {})])  # outside the timeframe
    periodic = costs.windows(cumulative=False)
    shown = [{k: (u.quantity, u.amount) for k, u in w.items()} for w in periodic]
    assert shown == [{"old": (1, 1)}, {"old": (1, 1), "new": (1, 3)}, {}]
    cumulative = costs.windows(cumulative=True)
    assert [{k: u.amount for k, u in w.items()} for w in cumulative] == [
        {"old": 1}, {"old": 2, "new": 3}, {"old": 2, "new": 3}]  # fmt: skip
    only_gpu = Costs(Catalogue([old]), edges)
    only_gpu.add([UsageEvent("x", "call", start, {})], currency="gpu_hours")
    assert only_gpu.windows(cumulative=False) == [{}, {}, {}]


def test_day_edges_follow_the_local_calendar() -> None:
    start = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 in New York, before the DST change
    end = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    edges = day_edges(start, end, "America/New_York")
    assert edges == [start, datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
                     datetime(2026, 3, 9, 4, 0, tzinfo=UTC), end]  # fmt: skip
    assert day_edges(start, start + timedelta(hours=1), "UTC") == [
        start, start + timedelta(hours=1)]  # fmt: skip
