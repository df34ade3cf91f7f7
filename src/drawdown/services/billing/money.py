"""Money amounts in requests (credit notes, cash balance): positive, in the currency's units.

Money differs from credits: it is always a decimal string, and it may not carry more
decimals than its currency's minor unit ("10.005" dollars is not an amount anyone can pay).
"""

from __future__ import annotations

from decimal import Decimal

from drawdown.ledger.amounts import decimal_string
from drawdown.services.currencies import minor_units
from drawdown.services.errors import InvalidField


def positive_money(value: object, *, field: str) -> Decimal:
    """A decimal string above zero (checked before any state is read)."""
    amount = decimal_string(value, field=field)
    if amount <= 0:
        raise InvalidField(field, "must be greater than 0")
    return amount


def in_minor_units(amount: Decimal, currency: str, *, field: str) -> Decimal:
    """`amount`, refused if it has more decimals than `currency` has minor units."""
    digits = minor_units(currency)
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > digits:
        raise InvalidField(field, f"must have at most {digits} decimal places in {currency}")
    return amount
