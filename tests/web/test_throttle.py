"""Sign-in throttling (issue 23): exponential backoff per account, a browser's own count for
an account it signed in to before, nothing keyed on the client address; and the global
bound on password checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drawdown.services.access import admins, signin
from drawdown.services.access.signin import Attempt
from support.contexts import make_context


@pytest.fixture
def clock() -> list[datetime]:
    return [datetime(2026, 1, 1, tzinfo=UTC)]


@pytest.fixture
def ctx(tmp_path: Path, clock: list[datetime]):
    context = make_context(f"sqlite:///{tmp_path / 't.db'}", lambda: clock[0])
    yield context
    context.db.close()


def fail(ctx, email: str, times: int, device: signin.Device | None = None) -> None:
    for _ in range(times):
        assert isinstance(signin.begin(ctx, email, device), Attempt)


def test_the_wait_doubles_after_five_failures_up_to_fifteen_minutes(ctx, clock) -> None:
    fail(ctx, " Admin@Example.com", signin.FAILURES_FREE)
    waits = []
    for _ in range(12):
        wait = signin.begin(ctx, "admin@example.com", None)
        assert isinstance(wait, int)
        waits.append(wait)
        clock[0] += timedelta(seconds=wait)
        assert isinstance(signin.begin(ctx, "admin@example.com", None), Attempt)  # one more
    assert waits == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900, 900]
    clock[0] += signin.WINDOW  # four hours without attempts: the count starts over
    fail(ctx, "admin@example.com", signin.FAILURES_FREE)


def attack(ctx, clock: list[datetime], email: str, times: int) -> None:
    """`times` failures on `email`, each made as soon as the throttle allows."""
    for _ in range(times):
        outcome = signin.begin(ctx, email, None)
        if isinstance(outcome, int):
            clock[0] += timedelta(seconds=outcome)
            outcome = signin.begin(ctx, email, None)
        assert isinstance(outcome, Attempt)


def test_other_accounts_and_the_admins_own_browser_are_never_delayed(ctx, clock) -> None:
    """Strangers' failures (any address: none is looked at) slow only the account's new
    browsers; a browser that signed in to it before, and every other account, go on."""
    own_browser = signin.new_device("admin@example.com")
    attack(ctx, clock, "admin@example.com", 8)
    assert signin.begin(ctx, "admin@example.com", None) == 40
    assert isinstance(signin.begin(ctx, "ADMIN@example.com ", own_browser), Attempt)
    assert isinstance(signin.begin(ctx, "other@example.com", None), Attempt)
    # A device token is worth something only for the account it signed in to.
    elsewhere = signin.new_device("other@example.com")
    assert signin.begin(ctx, "admin@example.com", elsewhere) == 40
    # Unknown emails are accounts of their own: sixty of them delay no one.
    for index in range(60):
        assert isinstance(signin.begin(ctx, f"nobody{index}@example.com", None), Attempt)
    assert isinstance(signin.begin(ctx, "admin@example.com", own_browser), Attempt)


def test_a_success_forgets_and_an_unchecked_attempt_does_not_count(ctx) -> None:
    fail(ctx, "admin@example.com", signin.FAILURES_FREE - 1)
    last = signin.begin(ctx, "admin@example.com", None)
    assert isinstance(last, Attempt)
    signin.withdrawn(ctx, last)  # the server was busy: never checked
    attempt = signin.begin(ctx, "admin@example.com", None)
    assert isinstance(attempt, Attempt)  # still the fifth, not a sixth
    signin.succeeded(ctx, attempt)
    fail(ctx, "admin@example.com", signin.FAILURES_FREE)


def test_password_checks_are_paced_in_order_and_refused_beyond_the_wait() -> None:
    pace = admins.Pace(rate=10, burst=3, wait_max=0.5)
    waits = [pace.reserve() for _ in range(10)]
    assert waits[:3] == [0.0, 0.0, 0.0]  # the burst
    turns = [w for w in waits[3:] if w is not None]
    assert [round(w, 1) for w in turns] == [0.1, 0.2, 0.3, 0.4, 0.5]  # one every 0.1 s
    assert waits[8:] == [None, None]  # more than half a second away: busy
