"""Money on the wire: decimal strings rounded to the currency's minor unit (§1.6)."""

from __future__ import annotations

from decimal import Decimal

from drawdown.ledger.amounts import round_money
from drawdown.services.currencies import minor_units


def money_text(value: Decimal, currency: str) -> str:
    """Rounded to the currency's minor unit (R-INV-1), written with at least 2 decimals
    (§1.6): "15.00" in USD, "2.00" in JPY, "1.235" in KWD."""
    digits = minor_units(currency)
    return str(round_money(round_money(value, digits), max(2, digits)))
