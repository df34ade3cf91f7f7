"""Exact amounts (docs/rules.md §1.6) and calendar rules R-TZ-1, R-TZ-2, R-TZ-4."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from drawdown.ledger import (
    InvalidAmount,
    InvalidDate,
    Metadata,
    add_days_local,
    add_months_local,
    exact_arithmetic,
    format_decimal,
    format_instant,
    resolve_instant,
    to_decimal,
    to_utc,
)

from .support import Book, increment


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, Decimal(5)),
        (Decimal("0.1"), Decimal("0.1")),
        ("12.5", Decimal("12.5")),
        ("0.20", Decimal("0.20")),  # the caller's scale is kept
        ("-3", Decimal(-3)),
        (Decimal("1E+2"), Decimal(100)),
        ("0.000000000001", Decimal("1E-12")),
        ("1.0000000000000000", Decimal(1)),  # trailing zeros are not precision
        ("9" * 18 + "." + "9" * 12, Decimal("9" * 18 + "." + "9" * 12)),  # NUMERIC(30, 12)
        ("-" + "9" * 18, Decimal("-" + "9" * 18)),
    ],
)
def test_amounts_to_decimal_accepts(value: object, expected: Decimal) -> None:
    assert to_decimal(value, field="amount") == expected


@pytest.mark.parametrize(
    "value",
    [
        True,
        1.5,
        "NaN",
        Decimal("NaN"),
        Decimal("Infinity"),
        "1e3",
        "12.",
        ".5",
        "",
        "0.0000000000001",
        "1" * 31,
        "1" * 19,  # §1.2: amounts lie below 10^18
        10**18,
        -(10**18),
        "1 ",
        " 1",
        "1\u00a0",
        "\uff11",  # a full-width digit
        10**30,
        Decimal("1E+30"),
        Decimal("1" * 100),
        None,
        [1],
    ],
)
def test_amounts_to_decimal_rejects(value: object) -> None:
    with pytest.raises(InvalidAmount) as raised:
        to_decimal(value, field="amount")
    assert (raised.value.field, raised.value.kind) == ("amount", "validation")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal(100), "100"),
        (Decimal("12.50"), "12.5"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal(-3), "-3"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0"), "0"),
        (Decimal("0.000"), "0"),
        (Decimal("1E-12"), "0.000000000001"),
        (Decimal("9" * 30 + ".5"), "9" * 30 + ".5"),
    ],
)
def test_amounts_format_decimal_shortest_plain(value: Decimal, text: str) -> None:
    assert format_decimal(value) == text


def test_amounts_arithmetic_is_exact_beyond_default_precision() -> None:
    with exact_arithmetic():
        total = Decimal("9" * 29) + Decimal("0.000000000001")
    assert format_decimal(total) == "9" * 29 + ".000000000001"


def test_metadata_is_read_only_hashable_and_copyable() -> None:
    metadata = Metadata({"a": "1"})
    assert metadata == {"a": "1"} and hash(metadata) == hash(Metadata({"a": "1"}))
    with pytest.raises(TypeError):
        metadata["b"] = "2"  # type: ignore[index]
    block = Book().do(increment("x", 1, metadata={"k": "v"})).changed_blocks[0]
    assert isinstance(block.metadata, Metadata)
    assert dataclasses.asdict(block)["metadata"] == {"k": "v"}
    assert copy.deepcopy(block) == block and hash(block) == hash(copy.copy(block))


# --- R-TZ-1, R-TZ-2, §1.6 input forms ------------------------------------------------------


def test_R_TZ_1_date_only_is_local_midnight() -> None:
    got = resolve_instant("2024-12-28", "America/Los_Angeles", field="expiry_date")
    assert got == utc(2024, 12, 28, 8) and got.tzinfo is UTC
    assert resolve_instant("2024-07-01", "Europe/Berlin", field="d") == utc(2024, 6, 30, 22)
    assert resolve_instant("2024-03-01", "UTC", field="d") == utc(2024, 3, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:00:00Z", utc(2024, 3, 1, 10)),
        ("2024-03-01T10:00:00+02:00", utc(2024, 3, 1, 8)),
        ("2024-03-01T10:00:00-05:00", utc(2024, 3, 1, 15)),
        ("2024-03-01T10:00:00.5+00:00", utc(2024, 3, 1, 10, 0, 0, 500000)),
        ("2024-03-01T10:00:00.123456Z", utc(2024, 3, 1, 10, 0, 0, 123456)),
        ("2024-03-01T10:00:00", utc(2024, 3, 1, 10)),  # naive: UTC
        ("2024-03-01T10:00", utc(2024, 3, 1, 10)),
        ("2024-03-01T10:00:00 02:00", utc(2024, 3, 1, 8)),  # "+" decoded as a space
        ("2024-03-01T10:00:00+0200", utc(2024, 3, 1, 8)),
    ],
)
def test_R_TZ_2_datetimes_with_offset_as_given_naive_as_utc(text: str, expected: datetime) -> None:
    got = resolve_instant(text, "Asia/Tokyo", field="effective_date")
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-3-1",
        "2024-02-30",
        "2024-03-01T25:00:00",
        "tomorrow",
        "2024-03-01T10:00:00+2",
        "2024-W09",
        "20240301",
        "2024-03-01T10:00:00.1234567Z",
        "2024-03-01T10:00:00+24:00",
    ],
)
def test_R_TZ_2_other_forms_are_invalid_dates(text: str) -> None:
    with pytest.raises(InvalidDate) as raised:
        resolve_instant(text, "UTC", field="expiry_date")
    assert (raised.value.field, raised.value.kind) == ("expiry_date", "validation")


def test_R_TZ_4_days_keep_local_midnight_across_dst() -> None:
    start = resolve_instant("2024-03-09", "America/New_York", field="d")  # 05:00Z, EST
    assert add_days_local(start, 1, "America/New_York") == utc(2024, 3, 10, 5)
    assert add_days_local(start, 2, "America/New_York") == utc(2024, 3, 11, 4)  # EDT
    assert add_days_local(start, 0, "America/New_York") == start
    assert add_days_local(start, -1, "America/New_York") == utc(2024, 3, 8, 5)


def test_R_TZ_4_months_clamp_to_month_end() -> None:
    jan31 = resolve_instant("2024-01-31", "Europe/Paris", field="d")
    assert add_months_local(jan31, 1, "Europe/Paris") == utc(2024, 2, 28, 23)  # Feb 29 00:00
    assert add_months_local(jan31, 13, "Europe/Paris") == utc(2025, 2, 27, 23)  # Feb 28
    assert add_months_local(jan31, 2, "Europe/Paris") == utc(2024, 3, 30, 23)  # DST kept
    assert add_months_local(utc(2024, 11, 15, 12), 3, "UTC") == utc(2025, 2, 15, 12)
    assert add_months_local(utc(2024, 3, 31), -1, "UTC") == utc(2024, 2, 29)


def test_dates_to_utc_and_format_instant() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert to_utc(datetime(2024, 3, 1, 2, tzinfo=plus2)) == utc(2024, 3, 1)
    assert to_utc(datetime(2024, 3, 1)).tzinfo is UTC
    moment = utc(2024, 3, 1, 12, 30, 5, 123456)
    assert format_instant(moment, fractions=False) == "2024-03-01T12:30:05Z"
    assert format_instant(moment, fractions=True) == "2024-03-01T12:30:05.123456Z"
    assert format_instant(utc(2024, 3, 1), fractions=False) == "2024-03-01T00:00:00Z"
    assert format_instant(utc(2024, 3, 1), fractions=True) == "2024-03-01T00:00:00.000000Z"
