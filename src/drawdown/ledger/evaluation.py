"""What priced usage comes to: one price over events (evaluate), and costs per price and
day (a customer's costs). Pure, over streams of events, with the deducter's own pricing.

* `Evaluation` applies one price (its event name, metric and unit amount) to every event
  of a timeframe, whatever the price's own effective window: Orb's evaluate answers what a
  price *would* charge for that usage. Extra `filter` conditions narrow the events further;
  `grouping_keys` split the result by property values (an event without the property is
  grouped under the empty string: groups always add up to the whole).
* `Costs` prices events the way the deducter does (`Catalogue.prices_for`: the version of
  each line in force at the event's timestamp) and sums them per window and price version.

Amounts are exact (`quantity × unit_amount`, no rounding), as in `ledger/usage.py`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from drawdown.ledger.dates import add_days_local, local_midnight, zone
from drawdown.ledger.errors import LedgerError
from drawdown.ledger.usage import (
    PRICING,
    Catalogue,
    Filters,
    Metric,
    UsageEvent,
    admits,
    quantity,
)

GroupValue = str | Decimal | bool
_ZERO = Decimal(0)


class TooManyGroups(LedgerError):
    """Grouping would return more groups than one answer may hold."""


@dataclass(frozen=True)
class Usage:
    """Usage of one price (or one group of it): quantity counted, its cost, events seen."""

    quantity: Decimal
    amount: Decimal
    events: int

    def plus(self, other: Usage) -> Usage:
        with localcontext(PRICING):
            return Usage(self.quantity + other.quantity, self.amount + other.amount,
                         self.events + other.events)  # fmt: skip


NO_USAGE = Usage(_ZERO, _ZERO, 0)


def total(usages: Iterable[Usage]) -> Usage:
    """The exact sum of ``usages``."""
    result = NO_USAGE
    for usage in usages:
        result = result.plus(usage)
    return result


def priced(metric: Metric, unit_amount: Decimal, properties: dict[str, object]) -> Usage:
    """One event's usage under ``metric`` at ``unit_amount`` per unit (exact)."""
    counted = quantity(metric, properties)
    with localcontext(PRICING):
        return Usage(counted, counted * unit_amount, 1)


class Evaluation:
    """One price applied to a stream of events, grouped by property values."""

    def __init__(self, event_name: str, metric: Metric, unit_amount: Decimal, *,
                 extra: Filters = (), grouping_keys: Sequence[str] = (),
                 groups_max: int = 1000) -> None:  # fmt: skip
        self.event_name, self.metric, self.unit_amount = event_name, metric, unit_amount
        self.narrowed = Metric(metric.kind, metric.property, extra)
        self.grouping_keys, self.groups_max = tuple(grouping_keys), groups_max
        self._groups: dict[tuple[tuple[str, GroupValue], ...], Usage] = {}
        self._shown: dict[tuple[tuple[str, GroupValue], ...], tuple[GroupValue, ...]] = {}

    def add(self, events: Iterable[UsageEvent]) -> None:
        for event in events:
            if event.event_name != self.event_name:
                continue
            if not admits(self.metric, event.properties):
                continue
            if not admits(self.narrowed, event.properties):
                continue
            key, shown = self._group_of(event)
            usage = priced(self.metric, self.unit_amount, dict(event.properties))
            self._groups[key] = self._groups.get(key, NO_USAGE).plus(usage)
            self._shown.setdefault(key, shown)
            if len(self._groups) > self.groups_max:
                raise TooManyGroups("grouping_keys", f"the result would have more than "
                                                     f"{self.groups_max} groups; group by "
                                                     "fewer properties or narrow the "
                                                     "timeframe")  # fmt: skip

    def _group_of(
        self, event: UsageEvent
    ) -> tuple[tuple[tuple[str, GroupValue], ...], tuple[GroupValue, ...]]:
        shown = tuple(_group_value(event.properties.get(k)) for k in self.grouping_keys)
        # Tagged by type: True and 1 are equal in Python but different groups.
        return tuple((type(v).__name__, v) for v in shown), shown

    def groups(self) -> list[tuple[tuple[GroupValue, ...], Usage]]:
        """(grouping values, usage) per group, in the order groups were first seen."""
        return [(self._shown[key], usage) for key, usage in self._groups.items()]


def _group_value(value: object) -> GroupValue:
    if isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return ""  # missing (or anything a property cannot be)


class Costs:
    """Priced usage per window (consecutive ``[edges[i], edges[i+1])``) and price version."""

    def __init__(self, catalogue: Catalogue, edges: Sequence[datetime]) -> None:
        assert len(edges) >= 2 and list(edges) == sorted(edges), edges
        self.catalogue, self.edges = catalogue, list(edges)
        self._windows: list[dict[str, Usage]] = [{} for _ in edges[1:]]

    def add(self, events: Iterable[UsageEvent], currency: str | None = None) -> None:
        """Price events (outside every window they count nowhere); only prices in
        ``currency`` when it is given."""
        for event in events:
            index = bisect.bisect_right(self.edges, event.timestamp) - 1
            if not 0 <= index < len(self._windows):
                continue
            window = self._windows[index]
            for version in self.catalogue.prices_for(event):
                if currency is not None and version.currency != currency:
                    continue
                usage = priced(version.metric, version.credits_per_unit, dict(event.properties))
                window[version.id] = window.get(version.id, NO_USAGE).plus(usage)

    def windows(self, *, cumulative: bool) -> list[dict[str, Usage]]:
        """Per window, usage by price id: each window alone, or everything up to its end."""
        if not cumulative:
            return [dict(w) for w in self._windows]
        running: dict[str, Usage] = {}
        result = []
        for window in self._windows:
            for price_id, usage in window.items():
                running[price_id] = running.get(price_id, NO_USAGE).plus(usage)
            result.append(dict(running))
        return result


def day_edges(start: datetime, end: datetime, tz: str) -> list[datetime]:
    """``start``, every local midnight of ``tz`` strictly between, and ``end``: the edges of
    the day windows a timeframe is cut into (the first and last may be part days)."""
    assert start < end
    local = start.astimezone(zone(tz))
    midnight = local_midnight(local.date(), tz)
    edges = [start]
    following = add_days_local(midnight, 1, tz)
    while following < end:
        edges.append(following)
        following = add_days_local(following, 1, tz)
    edges.append(end)
    return edges
