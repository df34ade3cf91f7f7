"""The balance-over-time chart: a step line through each entry's ending balance, as SVG geometry.

Pure: takes (instant, balance) points and returns coordinates and labels; the template
draws them. Coordinates are floats because they are pixels, not money; every value a
reader sees exactly (the hover title of each point) is formatted from the Decimal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from drawdown.ledger.amounts import format_decimal

WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 12
MARGIN_BOTTOM = 28
MIN_SPAN = timedelta(hours=1)  # a single point still gets a visible line

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
    plot_bottom: int = HEIGHT - MARGIN_BOTTOM


def balance_chart(history: Sequence[tuple[datetime, Decimal]], now: datetime) -> Chart | None:
    """The chart of `history` (oldest first), extended flat to `now`; None when empty."""
    if not history:
        return None
    start = history[0][0]
    end = max(now, history[-1][0], start + MIN_SPAN)
    low, high = _value_range([value for _, value in history])
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
        y_ticks=tuple(Tick(y(v), _short(v)) for v in _y_tick_values(low, high)),
        x_ticks=tuple(Tick(x(at), _time_label(at, end - start)) for at in (start, end)),
    )


def _value_range(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    # Zero is always in view: a balance is read against nothing-left.
    low, high = min(*values, Decimal(0)), max(*values, Decimal(0))
    return (low, high) if low != high else (low, low + 1)


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


def _y_tick_values(low: Decimal, high: Decimal) -> list[Decimal]:
    return [low, (low + high) / 2, high]


def _time_label(at: datetime, span: timedelta) -> str:
    return f"{at:%Y-%m-%d}" if span >= timedelta(days=2) else f"{at:%Y-%m-%d %H:%M}"


def _short(value: Decimal) -> str:
    """Axis labels are approximate by design; exact values are in the point titles."""
    return f"{float(value):,.6g}"
