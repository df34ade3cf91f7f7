"""The console's pure parts (chart geometry, form translation, ledger cursors) and the
`drawdown admin create-user` command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import run_cli
from drawdown.services.access import admins
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField
from drawdown.web import forms
from drawdown.web.chart import balance_chart
from drawdown.web.customer_page import decode_cursor
from drawdown.web.session import Session
from support.contexts import make_context

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_chart_titles_carry_exact_values_and_the_line_steps() -> None:
    history = [
        (T0, Decimal("100")),
        (T0 + timedelta(days=1), Decimal("70.125")),
        (T0 + timedelta(days=2), Decimal("-5")),
    ]
    chart = balance_chart(history, now=T0 + timedelta(days=4))
    assert chart is not None
    assert [p.title for p in chart.points] == [
        "100 at 2026-01-01 00:00:00 UTC",
        "70.125 at 2026-01-02 00:00:00 UTC",
        "-5 at 2026-01-03 00:00:00 UTC",
    ]
    first, second, third = chart.points
    assert first.x < second.x < third.x < chart.plot_right
    assert first.y < second.y < third.y  # SVG y grows downwards
    # Across to the next entry's time, then to its balance; finally flat until now.
    end = float(chart.plot_right)
    assert chart.path == f"M{first.x},{first.y} H{second.x}V{second.y} H{third.x}V{third.y} H{end}"
    # Ticks at round instants across the whole range, round values around the balances.
    assert [t.label for t in chart.x_ticks] == [
        "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"
    ]  # fmt: skip
    assert [t.label for t in chart.y_ticks] == ["-50", "0", "50", "100"]


def test_chart_ticks_are_round_over_months_and_tiny_values() -> None:
    history = [(T0, Decimal("4935")), (T0 + timedelta(days=200), Decimal("3935.5"))]
    chart = balance_chart(history, now=T0 + timedelta(days=400))
    assert chart is not None
    assert [t.label for t in chart.y_ticks] == ["0", "2000", "4000", "6000"]
    assert [t.label for t in chart.x_ticks] == ["2026-01", "2026-04", "2026-07", "2026-10",
                                                "2027-01"]  # fmt: skip
    assert chart.x_ticks[0].position == chart.plot_left  # the range starts at the first entry
    tiny = balance_chart([(T0, Decimal("0.003"))], now=T0 + timedelta(hours=2))
    assert tiny is not None
    assert [t.label for t in tiny.y_ticks] == ["0", "0.001", "0.002", "0.003"]


def test_chart_of_one_entry_still_draws_and_keeps_zero_in_view() -> None:
    chart = balance_chart([(T0, Decimal("5"))], now=T0)
    assert chart is not None
    assert chart.points[0].x == chart.plot_left
    assert chart.y_ticks[0].label == "0"
    assert balance_chart([], now=T0) is None


def test_form_values_become_the_api_request_with_empty_inputs_left_out() -> None:
    values = {"amount": " 12.50 ", "description": "", "currency": "credits", "stray": "x"}
    assert forms.api_request("decrement", values) == {
        "entry_type": "decrement",
        "amount": "12.50",
        "currency": "credits",
    }


def test_errors_for_fields_a_form_does_not_show_go_above_the_form() -> None:
    form = forms.FORMS_BY_TYPE["decrement"]
    placed = forms.placed(form, {"amount": "bad", "currency": "unknown", "block_id": "x"})
    assert placed == {"amount": "bad", "form": "currency: unknown; block_id: x"}


def test_ledger_cursor_round_trip_and_garbage_means_first_page() -> None:
    assert decode_cursor(f"{T0.isoformat()}|7|abc") == (T0, 7, "abc")
    for garbage in (None, "", "x|y|z", "2026-01-01T00:00:00|1|a", "a|b"):
        assert decode_cursor(garbage) is None


def test_a_session_never_equals_another_by_its_freshness() -> None:
    assert Session("a", "t", fresh=True) == Session("a", "t")


def test_create_user_prints_a_generated_password_that_signs_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admins.db'}"
    output = run_cli(url, "admin", "create-user", "Boss@Example.com")
    password = output.strip().splitlines()[-1]
    assert len(password) >= admins.PASSWORD_LENGTH_MIN
    ctx = _context(url)
    admin = admins.authenticate(ctx, "boss@example.com", password)
    assert admin is not None and admin.email == "boss@example.com"
    assert admin.password_hash.startswith("$argon2id$")
    assert admins.authenticate(ctx, "boss@example.com", password + "x") is None
    assert admins.authenticate(ctx, "nobody@example.com", password) is None


def test_create_user_with_a_chosen_password_and_no_duplicates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admins.db'}"
    output = run_cli(url, "admin", "create-user", "a@example.com", "--password", "x" * 12)
    assert "x" * 12 not in output
    ctx = _context(url)
    assert admins.authenticate(ctx, "a@example.com", "x" * 12) is not None
    with pytest.raises(InvalidField, match="already exists"):
        admins.create_admin(ctx, "A@example.com", "y" * 12)
    with pytest.raises(InvalidField) as short:
        admins.create_admin(ctx, "b@example.com", "short")
    assert short.value.field == "password"


def _context(database_url: str) -> ServiceContext:
    return make_context(database_url)
