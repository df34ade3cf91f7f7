"""Sign-in throttling forgets failures after its window and resets on success."""

from __future__ import annotations

from drawdown.web.throttle import FAILURES_MAX, WINDOW_SECONDS, SignInThrottle


def test_window_expires_and_success_resets() -> None:
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for _ in range(FAILURES_MAX):
        throttle.failed("A@example.com ")
    assert throttle.blocked("a@example.com")
    now[0] += WINDOW_SECONDS + 1
    assert not throttle.blocked("a@example.com")
    throttle.failed("a@example.com")
    throttle.succeeded("a@example.com")
    assert not throttle.blocked("a@example.com")
