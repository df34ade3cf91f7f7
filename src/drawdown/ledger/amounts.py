"""Exact credit amounts: the one constructor, the one formatter and the arithmetic context.

Invariant: every amount that enters the core went through ``to_decimal`` (finite, below
10^``INTEGER_DIGITS_MAX`` in magnitude, at most ``FRACTION_DIGITS_MAX`` fractional digits: a
NUMERIC(30, 12), the range the API reference documents, docs/rules.md §1.2), and all arithmetic runs
in ``exact_arithmetic()``, which traps any rounding, so sums are exact.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from drawdown.ledger.errors import InvalidAmount

FRACTION_DIGITS_MAX = 12
INTEGER_DIGITS_MAX = 18
SIGNIFICANT_DIGITS_MAX = INTEGER_DIGITS_MAX + FRACTION_DIGITS_MAX
ARITHMETIC_PRECISION = 60

# Trapping Inexact turns any silent rounding into a loud failure: credit sums must be exact.
_EXACT = Context(
    prec=ARITHMETIC_PRECISION,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)
# Rounding to a currency's minor unit: wide enough for the exact product of two amounts
# (2 x 30 digits) plus the minor unit, so it rounds once, half-up, and never overflows.
_MONEY = Context(
    prec=2 * SIGNIFICANT_DIGITS_MAX + 10,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
# ASCII digits only (§1.2): `\d` and Decimal() would also take "١٢" or full-width digits.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def exact_arithmetic() -> AbstractContextManager[Context]:
    """Run the body in a 60-digit decimal context that raises instead of rounding.

    `decimal.localcontext` itself, not a generator around it: it is entered for every
    command the core applies, and the generator's frame cost more than the context."""
    return localcontext(_EXACT)


def round_money(number: Decimal, fraction_digits: int) -> Decimal:
    """``number`` rounded half-up to ``fraction_digits`` places, exactly whatever its size."""
    with localcontext(_MONEY):
        return number.quantize(Decimal(1).scaleb(-fraction_digits))


def money_product(quantity: Decimal, unit_amount: Decimal, fraction_digits: int) -> Decimal:
    """``quantity × unit_amount`` computed exactly, then rounded once by ``round_money``.

    The default 28-digit context would round the product first (a double rounding that can
    move a cent) or fail outright on large amounts.
    """
    with exact_arithmetic():
        product = quantity * unit_amount
    return round_money(product, fraction_digits)


def to_decimal(value: object, *, field: str) -> Decimal:
    """Convert a wire value (int, Decimal or plain decimal string) to a checked Decimal.

    The caller's scale is kept ("0.20" stays Decimal("0.20")) because cost-basis strings echo
    it back; limits are checked on the normalised value, so trailing zeros cost nothing.
    """
    number = _coerce(value, field)
    _check_limits(number, field)
    return number


def decimal_string(value: object, *, field: str) -> Decimal:
    """A decimal-string field (money, cost basis): a string holding a plain decimal."""
    if not isinstance(value, str):
        raise InvalidAmount(field, "must be a decimal string")
    return to_decimal(value, field=field)


def _coerce(value: object, field: str) -> Decimal:
    # bool is a subclass of int, and float is lossy: both are refused before anything else.
    if isinstance(value, bool | float):
        raise InvalidAmount(field, "must be a number, not a boolean or binary float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        # Nothing around the digits (§1.2): a client's "1 " or "1\u00a0" is not 1.
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise InvalidAmount(field, "must be a plain decimal number such as 12.5")
        return Decimal(value)
    raise InvalidAmount(field, "must be a number")


def _check_limits(number: Decimal, field: str) -> None:
    if not number.is_finite():
        raise InvalidAmount(field, "must be a finite number")
    if number.is_zero():
        return
    _, exponent = _significant(number)
    if -exponent > FRACTION_DIGITS_MAX:
        raise InvalidAmount(field, f"must have at most {FRACTION_DIGITS_MAX} fractional digits")
    # `adjusted()` is the exponent of the leading digit: 17 for any 18-digit integer part.
    if number.adjusted() >= INTEGER_DIGITS_MAX:
        raise InvalidAmount(field, f"must be less than 10^{INTEGER_DIGITS_MAX} in magnitude")


def _significant(number: Decimal) -> tuple[str, int]:
    """Digits without trailing zeros, and the exponent that goes with them (context-free)."""
    _, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    return stripped, exponent + len(digits) - len(stripped)


def format_scaled(number: Decimal) -> str:
    """Plain-notation text keeping the caller's scale: "0.20" stays "0.20", never "1E-7"."""
    assert number.is_finite(), "only finite amounts are ever stored"
    return format(number, "f")


def format_decimal(number: Decimal) -> str:
    """Shortest exact plain-notation text: "100", "12.5", "0.000001", "-3"; never "-0"."""
    assert number.is_finite(), "only finite amounts are ever stored"
    if number.is_zero():
        return "0"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
