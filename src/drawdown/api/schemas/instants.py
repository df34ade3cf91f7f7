"""Instants on the wire (docs/rules.md §1.6): `at` with six fractional digits, as entries,
invoices and most objects write them; `day` without, as dates chosen by callers (expiry and
effective dates, invoice dates) are written. Either keeps a null a null."""

from __future__ import annotations

from datetime import datetime
from typing import overload

from drawdown.ledger.dates import format_instant


@overload
def at(value: datetime) -> str: ...
@overload
def at(value: datetime | None) -> str | None: ...
def at(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value, fractions=True)


@overload
def day(value: datetime) -> str: ...
@overload
def day(value: datetime | None) -> str | None: ...
def day(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value, fractions=False)
