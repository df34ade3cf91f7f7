"""Exact JSON output: Decimals as plain numbers, never floats, never exponents."""

from __future__ import annotations

import json
from decimal import Decimal

from drawdown.api.hygiene import parse_body
from drawdown.api.jsonio import dumps


def test_decimals_are_plain_numbers_without_exponent() -> None:
    text = dumps({"a": Decimal("1E+2"), "b": [Decimal("-0.000000000001"), Decimal("12.50")]})
    assert text == '{"a":100,"b":[-0.000000000001,12.5]}'


def test_strings_that_look_like_markers_stay_strings() -> None:
    sneaky = "\x00deadbeefdeadbeef5\x00"
    assert json.loads(dumps({"s": sneaky, "n": Decimal("5")})) == {"s": sneaky, "n": 5}


def test_parse_keeps_decimal_text_exact() -> None:
    body = parse_body(b'{"amount": 0.1, "n": 3}', "application/json")
    assert body == {"amount": Decimal("0.1"), "n": 3}
