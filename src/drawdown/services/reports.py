"""The prepaid-liability report (R-FIN-5: `drawdown report liability`, the console's page).

Due expiries of every customer are written first (R-TIME-1), so credits that expired
before the period's end are in `expired`, not still outstanding. The numbers come from
the entries themselves (`ledger/liability.py`), so they reconcile with the ledger to the
last decimal: closing outstanding is each currency's ledger balances summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext

from drawdown.ledger.liability import WIDE_EXACT, Line, Movement, liability, outstanding_series
from drawdown.ledger.model import Block
from drawdown.services.context import ServiceContext
from drawdown.services.credits import reads
from drawdown.services.errors import InvalidField
from drawdown.store import reports as store

PERIOD_DAYS_MAX = 366 * 20
SERIES_POINTS_MAX = 60


@dataclass(frozen=True)
class Expiring:
    currency: str
    credits: Decimal
    value: Decimal  # at cost basis
    blocks: int


@dataclass(frozen=True)
class LiabilityReport:
    start: datetime
    end: datetime  # exclusive
    lines: list[Line]
    ledger_totals: dict[str, Decimal]  # Σ ledger balances now, per currency
    expiring: list[Expiring]  # credits expiring within `expiring_days` of now
    expiring_days: int
    series: dict[str, list[tuple[datetime, Decimal]]]  # outstanding over the period


def period(start: date, end: date) -> tuple[datetime, datetime]:
    """Both dates inclusive, in UTC: [start 00:00, the day after end 00:00)."""
    if end < start:
        raise InvalidField("to", "must not be before from")
    if (end - start).days > PERIOD_DAYS_MAX:
        raise InvalidField("to", f"the period may span at most {PERIOD_DAYS_MAX} days")
    begin = datetime.combine(start, time(), UTC)
    return begin, datetime.combine(end, time(), UTC) + timedelta(days=1)


def liability_report(
    ctx: ServiceContext, start: date, end: date, *, expiring_days: int = 30
) -> LiabilityReport:
    begin, finish = period(start, end)
    reads.sweep_expiries(ctx)
    now = ctx.now()
    with ctx.db.read() as tx:
        moves = list(store.movements(tx, finish))
        totals = store.ledger_totals(tx)
        soon = store.blocks_expiring(tx, now, now + timedelta(days=expiring_days))
    lines = liability(moves, begin, finish)
    series = _series(moves, [line.currency for line in lines], begin, finish)
    return LiabilityReport(begin, finish, lines, totals, _expiring(soon), expiring_days, series)


def _expiring(blocks: list[Block]) -> list[Expiring]:
    sums: dict[str, tuple[Decimal, Decimal, int]] = {}
    with localcontext(WIDE_EXACT):
        for block in blocks:
            if block.balance <= 0:
                continue
            credits, value, count = sums.get(block.currency, (Decimal(0), Decimal(0), 0))
            cost = block.per_unit_cost_basis or Decimal(0)
            sums[block.currency] = (credits + block.balance, value + block.balance * cost,
                                    count + 1)  # fmt: skip
    return [Expiring(c, *sums[c]) for c in sorted(sums)]


def _series(
    moves: list[Movement], currencies: list[str], begin: datetime, finish: datetime
) -> dict[str, list[tuple[datetime, Decimal]]]:
    """Outstanding at evenly spaced instants from the period's start to its end."""
    steps = min(SERIES_POINTS_MAX, max(1, (finish - begin).days))
    instants = [begin + (finish - begin) * i / steps for i in range(steps + 1)]
    return {c: outstanding_series(moves, c, instants) for c in currencies}
