"""The balance-over-time chart: a step line through each entry's ending balance, as SVG geometry.

Pure: takes (instant, balance) points and returns coordinates and labels; the template
draws them. Coordinates are floats because they are pixels, not money; every value a
reader sees exactly (the hover title of each point) is formatted from the Decimal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from drawdown.ledger.amounts import format_decimal

WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 12
MARGIN_BOTTOM = 28
MIN_SPAN = timedelta(hours=1)  # a single point still gets a visible line
TICKS_TARGET = 4

TimeScale = Callable[[datetime], float]
ValueScale = Callable[[Decimal], float]


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    title: str  # exact value and time, shown on hover


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    path: str
    points: tuple[ChartPoint, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    plot_left: int = MARGIN_LEFT
    plot_right: int = WIDTH - MARGIN_RIGHT


def balance_chart(history: Sequence[tuple[datetime, Decimal]], now: datetime) -> Chart | None:
    """The chart of `history` (oldest first), extended flat to `now`; None when empty.

    The x axis spans the ledger's real time range (first entry shown to now) with ticks at
    round instants (whole hours, days, weeks or months); the y axis is widened to round
    values around zero and the balances, with ticks at a round step (1, 2, 2.5 or 5 × 10^k).
    """
    if not history:
        return None
    start = history[0][0]
    end = max(now, history[-1][0], start + MIN_SPAN)
    step = _value_step(*_value_range([value for _, value in history]))
    low, high = _rounded_range([value for _, value in history], step)
    x = _scale_time(start, end)
    y = _scale_value(low, high)
    points = tuple(
        ChartPoint(x(at), y(value), f"{format_decimal(value)} at {at:%Y-%m-%d %H:%M:%S} UTC")
        for at, value in history
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        path=_step_path(points, x(end)),
        points=points,
        y_ticks=tuple(Tick(y(v), _short(v)) for v in _y_tick_values(low, high, step)),
        x_ticks=_x_ticks(x, start, end),
    )


def _x_ticks(x: TimeScale, start: datetime, end: datetime) -> tuple[Tick, ...]:
    ticks = time_ticks(start, end)
    spacing = ticks[1] - ticks[0] if len(ticks) > 1 else end - start
    return tuple(Tick(x(at), _time_label(at, spacing)) for at in ticks)


def _value_range(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    # Zero is always in view: a balance is read against nothing-left.
    low, high = min(*values, Decimal(0)), max(*values, Decimal(0))
    return (low, high) if low != high else (low, low + 1)


def _value_step(low: Decimal, high: Decimal) -> Decimal:
    """A round step giving about four intervals: 1, 2, 2.5 or 5 times a power of ten."""
    raw = (high - low) / TICKS_TARGET
    power = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if raw <= power * factor:
            return power * factor
    return power * 10  # pragma: no cover - the loop always returns


def _rounded_range(values: Sequence[Decimal], step: Decimal) -> tuple[Decimal, Decimal]:
    low, high = _value_range(values)
    return (low / step).to_integral_value(ROUND_FLOOR) * step, (high / step).to_integral_value(
        ROUND_CEILING
    ) * step


def _scale_time(start: datetime, end: datetime) -> TimeScale:
    span = (end - start).total_seconds()
    width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    return lambda at: round(MARGIN_LEFT + width * (at - start).total_seconds() / span, 2)


def _scale_value(low: Decimal, high: Decimal) -> ValueScale:
    height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = HEIGHT - MARGIN_BOTTOM
    return lambda value: round(bottom - height * float((value - low) / (high - low)), 2)


def _step_path(points: Sequence[ChartPoint], x_end: float) -> str:
    """Balances hold until the next entry, so the line moves across, then up or down."""
    parts = [f"M{points[0].x},{points[0].y}"]
    for point in points[1:]:
        parts.append(f"H{point.x}V{point.y}")
    parts.append(f"H{x_end}")
    return " ".join(parts)


def _y_tick_values(low: Decimal, high: Decimal, step: Decimal) -> list[Decimal]:
    count = int((high - low) / step)
    return [(low + step * i).normalize() + 0 for i in range(count + 1)]


_TIME_STEPS = (
    timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3),
    timedelta(hours=6), timedelta(hours=12), timedelta(days=1), timedelta(days=2),
    timedelta(days=7), timedelta(days=14),
)  # fmt: skip


def time_ticks(start: datetime, end: datetime) -> list[datetime]:
    """Round instants within [start, end]: about four to eight of them."""
    span = end - start
    step = next((s for s in _TIME_STEPS if span / s <= TICKS_TARGET + 2), None)
    if step is None:
        return _month_ticks(start, end)
    epoch = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: weekly ticks fall on Mondays
    first = epoch + step * -((epoch - start) // step)
    ticks = []
    while first <= end:
        ticks.append(first)
        first += step
    return ticks


def _month_ticks(start: datetime, end: datetime) -> list[datetime]:
    months = (end.year - start.year) * 12 + end.month - start.month
    every = next(m for m in (1, 2, 3, 6, 12, 24, 60, 120, 10**6) if months / m <= TICKS_TARGET + 2)
    at = datetime(start.year, 1, 1, tzinfo=UTC)
    ticks = []
    while at <= end:
        if at >= start:
            ticks.append(at)
        month = at.month - 1 + every
        at = at.replace(year=at.year + month // 12, month=month % 12 + 1)
    return ticks


def _time_label(at: datetime, spacing: timedelta) -> str:
    """As precise as the distance between ticks needs: months, days, or hours."""
    if spacing >= timedelta(days=28):
        return f"{at:%Y-%m}"
    return f"{at:%Y-%m-%d}" if spacing >= timedelta(days=1) else f"{at:%m-%d %H:%M}"


def _short(value: Decimal) -> str:
    """Tick values are round by construction, so their exact form is short."""
    return format_decimal(value)
