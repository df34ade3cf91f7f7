"""ISO 4217 currencies and their minor units; anything else is a custom pricing unit (R-CUR-*);
which ledger a request names."""

from __future__ import annotations

from drawdown.records import Customer
from drawdown.services.errors import ConstraintViolation, InvalidField

# Active ISO 4217 codes with a minor unit other than 2.
_MINOR_UNITS_NOT_TWO = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip

_TWO_DECIMAL_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR
FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW
KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD
SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU
UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL
""".split()  # noqa: SIM905 - a word list reads better than 150 quoted codes

MINOR_UNITS: dict[str, int] = {code: 2 for code in _TWO_DECIMAL_CODES} | _MINOR_UNITS_NOT_TWO
CUSTOM_UNIT_LENGTH_MAX = 64
DEFAULT_PRICING_UNIT = "credits"


def iso_code(value: str) -> str | None:
    """The upper-cased ISO 4217 code if `value` is one (case-insensitive), else None."""
    code = value.upper()
    return code if code in MINOR_UNITS else None


def minor_units(code: str) -> int:
    return MINOR_UNITS.get(code, 2)


def ledger_currency(customer: Customer, value: str | None, field: str = "currency") -> str:
    """The ledger a request names: `credits` by default, a matching ISO code, or a custom unit."""
    if value is None:
        return DEFAULT_PRICING_UNIT
    code = iso_code(value)
    if code is None:
        if not 1 <= len(value) <= CUSTOM_UNIT_LENGTH_MAX:
            raise InvalidField(field, f"must be 1-{CUSTOM_UNIT_LENGTH_MAX} characters")
        return value
    if customer.currency != code:
        raise ConstraintViolation(
            field,
            f"{code} is not this customer's currency ({customer.currency or 'none set'}); "
            "set the customer's currency first or use a custom pricing unit",
        )
    return code
