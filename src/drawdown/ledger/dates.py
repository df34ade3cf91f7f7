"""Calendar helpers: parsing request dates, local-calendar arithmetic, instant formatting.

Invariant: every datetime leaving this module is timezone-aware with tzinfo ``UTC``. Date-only
input means local midnight in the customer's IANA zone (R-TZ-1); arithmetic on days and months
is done on the local wall clock (R-TZ-4), so local midnights stay local midnights across DST.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from drawdown.ledger.errors import InvalidDate

# ASCII digits only (`re.ASCII`): `\d` would also match other scripts' digits (§1.2).
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# A space before the offset is a "+" that a query string decoded as a space.
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<offset>[Zz]|[+\- ]\d{2}:?\d{2})?",
    re.ASCII,
)


@lru_cache(maxsize=256)
def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; an unknown name is a programmer error (validated at creation)."""
    return ZoneInfo(tz)


def resolve_instant(value: str, tz: str, *, field: str) -> datetime:
    """Resolve a request date/datetime to an aware UTC instant (R-TZ-1, R-TZ-2, §1.6)."""
    text = value.strip()
    try:
        if _DATE_ONLY.fullmatch(text):
            return local_midnight(date.fromisoformat(text), tz)
        match = _DATETIME.fullmatch(text)
        if match is not None:
            return to_utc(datetime.fromisoformat(_canonical(match)))
    except (ValueError, OverflowError) as error:
        raise InvalidDate(field, f"is not a valid date or datetime: {error}") from error
    raise InvalidDate(field, "must be YYYY-MM-DD or an ISO 8601 datetime")


def _canonical(match: re.Match[str]) -> str:
    offset = match["offset"] or ""
    if offset in ("Z", "z"):
        offset = "+00:00"
    elif offset:
        sign = "-" if offset[0] == "-" else "+"
        digits = offset[1:].replace(":", "")
        offset = f"{sign}{digits[:2]}:{digits[2:]}"
    return f"{match['date']}T{match['time']}{offset}"


def local_midnight(day: date, tz: str) -> datetime:
    """00:00 of ``day`` on the wall clock of ``tz``, as a UTC instant."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)


def to_utc(instant: datetime) -> datetime:
    """The same instant with tzinfo UTC; a naive datetime is read as UTC (R-TZ-2)."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def add_days_local(instant: datetime, days: int, tz: str) -> datetime:
    """``instant`` plus ``days`` calendar days on the local wall clock of ``tz`` (R-TZ-4)."""
    local = to_utc(instant).astimezone(zone(tz))
    # Aware + timedelta keeps the wall time and re-resolves the offset: what R-TZ-4 asks for.
    return (local + timedelta(days=days)).replace(fold=0).astimezone(UTC)


def add_months_local(instant: datetime, months: int, tz: str) -> datetime:
    """``instant`` plus ``months`` on the local calendar, clamping the day (Jan 31 + 1 = Feb 28)."""
    local = to_utc(instant).astimezone(zone(tz))
    year, month_index = divmod(local.year * 12 + local.month - 1 + months, 12)
    month = month_index + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day, fold=0).astimezone(UTC)


def format_instant(instant: datetime, *, fractions: bool) -> str:
    """RFC 3339 UTC text with ``Z``; ``fractions`` adds exactly six fractional digits."""
    if instant.tzinfo is not UTC:
        instant = to_utc(instant)
    # isoformat of an aware UTC instant ends in "+00:00"; swapping the suffix is much
    # cheaper than dropping the tzinfo with `.replace` first (a ledger page formats 200).
    text = instant.isoformat(timespec="microseconds" if fractions else "seconds")
    return text[:-6] + "Z"


def resolve_bounds(
    bounds: Iterable[tuple[str, str]], tz: str, *, field: str
) -> list[tuple[str, datetime]]:
    """Range filters like `created_at[gte]=…` as (op, instant), dates read in zone `tz`."""
    return [(op, resolve_instant(value, tz, field=f"{field}[{op}]")) for op, value in bounds]
