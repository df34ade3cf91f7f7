"""Sign-in throttling: per (email, client) and per client, in the database, over a window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from drawdown.services.access import signin
from support.contexts import make_context


def test_window_expires_success_resets_and_other_clients_are_unaffected(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    ctx = make_context(f"sqlite:///{tmp_path / 't.db'}", lambda: now[0])
    for _ in range(signin.FAILURES_MAX):
        signin.failed(ctx, "A@example.com ", "10.0.0.1")
    assert signin.blocked(ctx, "a@example.com", "10.0.0.1")
    # A stranger elsewhere cannot lock the real admin out.
    assert not signin.blocked(ctx, "a@example.com", "10.0.0.2")
    now[0] += signin.WINDOW
    assert not signin.blocked(ctx, "a@example.com", "10.0.0.1")
    signin.failed(ctx, "a@example.com", "10.0.0.1")
    signin.succeeded(ctx, "a@example.com", "10.0.0.1")
    assert not signin.blocked(ctx, "a@example.com", "10.0.0.1")
    ctx.db.close()


def test_a_client_failing_on_many_emails_is_blocked_on_all(tmp_path: Path) -> None:
    ctx = make_context(f"sqlite:///{tmp_path / 't.db'}")
    for index in range(signin.CLIENT_FAILURES_MAX):
        signin.failed(ctx, f"user{index}@example.com", "10.9.9.9")
    assert signin.blocked(ctx, "admin@example.com", "10.9.9.9")
    assert not signin.blocked(ctx, "admin@example.com", "10.0.0.1")
    ctx.db.close()
