"""Exact JSON output: Decimals as plain numbers, never floats, never exponents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from drawdown.api.hygiene import parse_body
from drawdown.api.jsonio import dumps


def test_decimals_are_plain_numbers_without_exponent() -> None:
    text = dumps({"a": Decimal("1E+2"), "b": [Decimal("-0.000000000001"), Decimal("12.50")]})
    assert text == b'{"a":100,"b":[-0.000000000001,12.5]}'


def test_strings_stay_strings_and_datetimes_take_drawdowns_form() -> None:
    sneaky = "\x00deadbeefdeadbeef5\x00"
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert json.loads(dumps({"s": sneaky, "n": Decimal("5"), "t": moment})) == {
        "s": sneaky,
        "n": 5,
        "t": "2026-01-02T03:04:05.000000Z",
    }


def test_text_that_cannot_be_sent_fails_before_anything_is_sent() -> None:
    with pytest.raises(TypeError):
        dumps({"s": "\ud800"})


def test_parse_keeps_decimal_text_exact() -> None:
    body = parse_body(b'{"amount": 0.1, "n": 3}', "application/json")
    assert body == {"amount": Decimal("0.1"), "n": 3}
