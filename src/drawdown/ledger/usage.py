"""Pricing usage: events × the price catalogue → exact credits per (ledger, item).

Pure functions of their arguments (no clock, no I/O), so a deduction can be replayed and
property-tested. Invariants:

* a price is a list of versions per (item, event name); an event is priced by the version
  in force at the event's own ``timestamp`` (``effective_from ≤ timestamp``, latest wins),
  so a new version never reprices usage that happened before it;
* priced amounts are exact (no rounding anywhere): ``quantity × credits_per_unit`` summed in
  a trapped context; only ``split_deduction`` cuts to the ledger's precision, and it carries
  what it cut (always below one unit of the last stored digit) into the next deduction, so
  Σ deductions + carry == Σ priced usage, to the last decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext

from drawdown.ledger.amounts import FRACTION_DIGITS_MAX
from drawdown.ledger.errors import LedgerError

_ZERO = Decimal(0)
_ONE = Decimal(1)
_QUANTUM = Decimal(1).scaleb(-FRACTION_DIGITS_MAX)
# Wide enough for sums of many exact products of two 30-digit amounts; any rounding raises.
_PRICING = Context(prec=200, traps=[Inexact, InvalidOperation, Overflow])
QUANTITY_DIGITS_MAX = 30  # significant digits of a summed property value that is priced


class InvalidMetric(LedgerError):
    """A price's metric is neither `count` nor `sum:PROPERTY`."""


@dataclass(frozen=True)
class Metric:
    """How one event counts: ``count`` (1 per event) or ``sum`` of a numeric property."""

    kind: str  # "count" | "sum"
    property: str | None = None

    def __str__(self) -> str:
        return "count" if self.kind == "count" else f"sum:{self.property}"


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
    lack the property; a negative value would be a refund, which usage never is)."""
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


class Catalogue:
    """Price versions indexed by event name, each list in ``effective_from`` order."""

    def __init__(self, versions: Iterable[PriceVersion]) -> None:
        lines: dict[tuple[str, str], list[PriceVersion]] = {}
        for version in versions:
            lines.setdefault((version.event_name, version.item_id), []).append(version)
        self._by_event: dict[str, list[list[PriceVersion]]] = {}
        for (event_name, _), line in sorted(lines.items()):
            line.sort(key=lambda v: (v.effective_from, v.id))
            self._by_event.setdefault(event_name, []).append(line)

    def prices_at(self, event_name: str, at: datetime) -> list[PriceVersion]:
        """The version in force at ``at`` of every price of ``event_name`` (one per item)."""
        found = []
        for line in self._by_event.get(event_name, ()):
            current = None
            for version in line:
                if version.effective_from > at:
                    break
                current = version
            if current is not None:
                found.append(current)
        return found


def price_events(events: Sequence[UsageEvent], catalogue: Catalogue) -> dict[ChargeKey, Charge]:
    """Exact priced usage per (ledger, item) of ``events``; unpriced events add nothing."""
    charges: dict[ChargeKey, Charge] = {}
    with localcontext(_PRICING):
        for event in events:
            for version in catalogue.prices_at(event.event_name, event.timestamp):
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
