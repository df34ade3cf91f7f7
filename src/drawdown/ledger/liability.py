"""The prepaid-liability report (pure): what was granted, consumed, expired and voided in a
period, and what is outstanding at its start and end, in credits and at cost basis.

Every entry moves the ledger balance L by its R-BAL-3 delta, so for each currency

    outstanding(end) = outstanding(start) + granted − consumed − expired − voided

holds exactly, and outstanding at any instant is L then (the sum of block balances). An
amendment returns credits a decrement took (R-AMD-1), so it counts as negative consumption.
Values are amount × the block's per-unit cost basis (none counts as 0: free credits carry
no revenue): outstanding value is deferred revenue, consumed value recognised revenue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext

_ZERO = Decimal(0)
# Products of two 30-digit amounts, summed over a whole ledger's history: wide and exact.
WIDE_EXACT = Context(prec=400, traps=[Inexact, InvalidOperation, DivisionByZero])

# entry_type -> (column, sign within that column)
_COLUMNS = {
    "increment": ("granted", 1),
    "amendment": ("consumed", -1),
    "decrement": ("consumed", 1),
    "credit_block_expiry": ("expired", 1),
    "void": ("voided", 1),
}
# Sign of each column in the change of the outstanding balance.
_OUTSTANDING_SIGN = {"granted": 1, "consumed": -1, "expired": -1, "voided": -1}
COLUMNS = ("granted", "consumed", "expired", "voided")


@dataclass(frozen=True)
class Movement:
    """One ledger entry as the report sees it."""

    currency: str
    entry_type: str
    amount: Decimal
    created_at: datetime
    cost_basis: Decimal | None


@dataclass
class Amounts:
    """Credits and their value at cost basis."""

    credits: Decimal = _ZERO
    value: Decimal = _ZERO

    def add(self, credits: Decimal, value: Decimal) -> None:
        self.credits += credits
        self.value += value


@dataclass
class Line:
    """One currency's report for the period [start, end)."""

    currency: str
    opening: Amounts = field(default_factory=Amounts)
    granted: Amounts = field(default_factory=Amounts)
    consumed: Amounts = field(default_factory=Amounts)
    expired: Amounts = field(default_factory=Amounts)
    voided: Amounts = field(default_factory=Amounts)
    closing: Amounts = field(default_factory=Amounts)

    def column(self, name: str) -> Amounts:
        amounts: Amounts = getattr(self, name)
        return amounts


def liability(movements: Iterable[Movement], start: datetime, end: datetime) -> list[Line]:
    """Per currency (sorted), the report for entries created in [start, end)."""
    lines: dict[str, Line] = {}
    with localcontext(WIDE_EXACT):
        for m in movements:
            if m.created_at >= end or m.entry_type not in _COLUMNS:
                continue
            line = lines.setdefault(m.currency, Line(m.currency))
            name, sign = _COLUMNS[m.entry_type]
            credits = sign * m.amount
            value = credits * (m.cost_basis or _ZERO)
            delta = _OUTSTANDING_SIGN[name]
            line.closing.add(delta * credits, delta * value)
            if m.created_at < start:
                line.opening.add(delta * credits, delta * value)
            else:
                line.column(name).add(credits, value)
    return [lines[c] for c in sorted(lines)]


def outstanding_series(
    movements: Iterable[Movement], currency: str, instants: Sequence[datetime]
) -> list[tuple[datetime, Decimal]]:
    """Outstanding credits of one currency just before each instant (instants ascending)."""
    ordered = sorted(
        (m for m in movements if m.currency == currency and m.entry_type in _COLUMNS),
        key=lambda m: m.created_at,
    )
    series, balance, index = [], _ZERO, 0
    with localcontext(WIDE_EXACT):
        for instant in instants:
            while index < len(ordered) and ordered[index].created_at < instant:
                m = ordered[index]
                name, sign = _COLUMNS[m.entry_type]
                balance += _OUTSTANDING_SIGN[name] * sign * m.amount
                index += 1
            series.append((instant, balance))
    return series
