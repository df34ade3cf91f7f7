"""Pricing usage: events × the price catalogue → exact credits per (ledger, item).

Pure functions of their arguments (no clock, no I/O), so a deduction can be replayed and
property-tested. Invariants:

* a price is a line of versions per (item, event name, property filters); an event is
  priced by the version of each line in force at the event's own ``timestamp``
  (``effective_from ≤ timestamp < effective_until``, latest wins), so a new version never
  reprices usage that happened before it;
* a metric's ``filters`` (property = value, all must hold) decide which events of its event
  name it counts at all: an event they refuse is not priced by that line;
* priced amounts are exact (no rounding anywhere): ``quantity × credits_per_unit`` summed in
  a trapped context; only ``split_deduction`` cuts to the ledger's precision, and it carries
  what it cut (always below one unit of the last stored digit) into the next deduction, so
  Σ deductions + carry == Σ priced usage, to the last decimal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext

from drawdown.ledger.amounts import FRACTION_DIGITS_MAX, format_decimal
from drawdown.ledger.errors import LedgerError

_ZERO = Decimal(0)
_ONE = Decimal(1)
_QUANTUM = Decimal(1).scaleb(-FRACTION_DIGITS_MAX)
# Wide enough for sums of many exact products of two 30-digit amounts; any rounding raises.
_PRICING = Context(prec=200, traps=[Inexact, InvalidOperation, Overflow])
PRICING = _PRICING  # for other pricing modules (ledger/evaluation.py): the same exact context
QUANTITY_DIGITS_MAX = 30  # significant digits of a summed property value that is priced


class InvalidMetric(LedgerError):
    """A price's metric is neither `count` nor `sum:PROPERTY`."""


FilterValue = str | Decimal | bool
# (property, value) pairs sorted by property: the metric's `AND property = value` conditions.
Filters = tuple[tuple[str, FilterValue], ...]


def canonical_filters(pairs: Iterable[tuple[str, FilterValue]]) -> Filters:
    """Filters in their one canonical order (by property), so equal filters compare equal."""
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


@dataclass(frozen=True)
class Metric:
    """How one event counts: ``count`` (1 per event) or ``sum`` of a numeric property, over
    the events whose properties equal every one of ``filters`` (none: every event)."""

    kind: str  # "count" | "sum"
    property: str | None = None
    filters: Filters = ()

    def __str__(self) -> str:
        return "count" if self.kind == "count" else f"sum:{self.property}"


def admits(metric: Metric, properties: Mapping[str, object]) -> bool:
    """Whether an event with these properties is counted by ``metric`` at all: each filter's
    property is present with an equal value of the same type (text, number or boolean)."""
    return all(_equals(properties.get(name, _MISSING), value) for name, value in metric.filters)


_MISSING = object()


def _equals(found: object, wanted: FilterValue) -> bool:
    if isinstance(wanted, bool) or isinstance(found, bool):
        return found is wanted
    if isinstance(wanted, Decimal):
        return isinstance(found, int | Decimal) and Decimal(found) == wanted
    return isinstance(found, str) and found == wanted


def parse_metric(text: str) -> Metric:
    """``count`` or ``sum:PROPERTY`` (the CLI's and the catalogue's spelling)."""
    if text == "count":
        return Metric("count")
    kind, _, name = text.partition(":")
    if kind == "sum" and name.strip():
        return Metric("sum", name.strip())
    raise InvalidMetric("metric", "must be count or sum:PROPERTY")


@dataclass(frozen=True)
class PriceVersion:
    """One version of the price of an event name for an item, in credits per unit."""

    id: str
    item_id: str
    event_name: str
    currency: str
    metric: Metric
    credits_per_unit: Decimal
    effective_from: datetime
    # When a later version of the line (or the item's archiving) ended this one; None while
    # it is the line's newest version. An event at or after it is not priced by it.
    effective_until: datetime | None = None

    def in_force(self, at: datetime) -> bool:
        return self.effective_from <= at and (
            self.effective_until is None or at < self.effective_until
        )


@dataclass(frozen=True)
class UsageEvent:
    """An accepted event as pricing sees it."""

    idempotency_key: str
    event_name: str
    timestamp: datetime
    properties: Mapping[str, object]


@dataclass(frozen=True, order=True)
class ChargeKey:
    """Where priced usage is drawn: a ledger (currency) and the item its filters see."""

    currency: str
    item_id: str


@dataclass(frozen=True)
class Charge:
    """Exact priced usage of one item in one ledger, and the event window it covers."""

    amount: Decimal
    events: int
    first_at: datetime
    last_at: datetime


def quantity(metric: Metric, properties: Mapping[str, object]) -> Decimal:
    """What one event contributes: 1 for count; for sum, the property's value when it is a
    non-negative number within the stored precision, else 0 (Orb's sum skips events that
    lack the property; a negative value would be a refund, which usage never is). An event
    the metric's filters refuse contributes 0."""
    if not admits(metric, properties):
        return _ZERO
    if metric.kind == "count":
        return _ONE
    assert metric.property is not None
    value = properties.get(metric.property)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return _ZERO
    number = Decimal(value)
    if not number.is_finite() or number < 0 or _too_precise(number):
        return _ZERO
    return number


def _too_precise(number: Decimal) -> bool:
    _, digits, exponent = number.normalize(_PRICING).as_tuple()
    assert isinstance(exponent, int)
    return -exponent > FRACTION_DIGITS_MAX or len(digits) + max(exponent, 0) > QUANTITY_DIGITS_MAX


def line_key(version: PriceVersion) -> tuple[str, str, str]:
    """The line a version belongs to: (event name, filters, item). A new version of a line
    supersedes the one before it; versions of different lines all apply."""
    return version.event_name, filters_text(version.metric.filters), version.item_id


def filters_text(filters: Filters) -> str:
    """Filters as canonical JSON text (`[["region","eu"],["tier",2]]`): how they are stored
    and compared, by the store as by the catalogue."""
    parts = []
    for name, value in filters:
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, Decimal):
            shown = format_decimal(value)
        else:
            shown = json.dumps(value, ensure_ascii=False)
        parts.append(f"[{json.dumps(name, ensure_ascii=False)},{shown}]")
    return "[" + ",".join(parts) + "]"


def parse_filters_text(text: str) -> Filters:
    pairs = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    return canonical_filters((str(name), value) for name, value in pairs)


class Catalogue:
    """Price versions indexed by event name, each line in ``effective_from`` order."""

    def __init__(self, versions: Iterable[PriceVersion]) -> None:
        lines: dict[tuple[str, str, str], list[PriceVersion]] = {}
        for version in versions:
            lines.setdefault(line_key(version), []).append(version)
        self._by_event: dict[str, list[list[PriceVersion]]] = {}
        for (event_name, _, _), line in sorted(lines.items()):
            line.sort(key=lambda v: (v.effective_from, v.id))
            self._by_event.setdefault(event_name, []).append(line)

    def prices_at(self, event_name: str, at: datetime) -> list[PriceVersion]:
        """The version in force at ``at`` of every price line of ``event_name``."""
        found = []
        for line in self._by_event.get(event_name, ()):
            current = None
            for version in line:
                if version.effective_from > at:
                    break
                if version.in_force(at):
                    current = version
            if current is not None:
                found.append(current)
        return found

    def prices_for(self, event: UsageEvent) -> list[PriceVersion]:
        """The versions that price ``event``: in force at its timestamp, filters admitting it."""
        found = self.prices_at(event.event_name, event.timestamp)
        return [version for version in found if admits(version.metric, event.properties)]


def price_events(events: Sequence[UsageEvent], catalogue: Catalogue) -> dict[ChargeKey, Charge]:
    """Exact priced usage per (ledger, item) of ``events``; unpriced events add nothing."""
    charges: dict[ChargeKey, Charge] = {}
    with localcontext(_PRICING):
        for event in events:
            for version in catalogue.prices_for(event):
                amount = quantity(version.metric, event.properties) * version.credits_per_unit
                key = ChargeKey(version.currency, version.item_id)
                charges[key] = _add(charges.get(key), amount, event.timestamp)
    return charges


def _add(charge: Charge | None, amount: Decimal, at: datetime) -> Charge:
    if charge is None:
        return Charge(amount, 1, at, at)
    return Charge(charge.amount + amount, charge.events + 1, min(charge.first_at, at),
                  max(charge.last_at, at))  # fmt: skip


def split_deduction(priced: Decimal, carried: Decimal) -> tuple[Decimal, Decimal]:
    """(amount to deduct now, carry): the exact total cut down to the ledger's precision.

    ``carried`` is what earlier deductions of this (ledger, item) could not yet take
    (0 ≤ carried < one unit of the last stored digit); the new carry is again below it.
    """
    assert priced >= 0 and _ZERO <= carried < _QUANTUM, (priced, carried)
    with localcontext(_PRICING):
        total = priced + carried
        amount = total.quantize(_QUANTUM, rounding=ROUND_DOWN, context=_loose())
        return amount, total - amount


def _loose() -> Context:
    # quantize with ROUND_DOWN is meant to drop digits: the one place Inexact is expected.
    return Context(prec=200, rounding=ROUND_DOWN, traps=[InvalidOperation, Overflow])
