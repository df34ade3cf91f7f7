"""Sign-in throttling: a few wrong passwords per email, then a pause.

Per process and in memory, like the API's rate limiter: it stops online password guessing
at the console's public form without a table to maintain. Argon2 already makes each guess
slow; this bounds how many a single account can take.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

FAILURES_MAX = 5
WINDOW_SECONDS = 15 * 60


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, email: str) -> bool:
        with self._lock:
            return len(self._recent(email.strip().lower())) >= FAILURES_MAX

    def failed(self, email: str) -> None:
        with self._lock:
            self._recent(email.strip().lower()).append(self._clock())

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(email.strip().lower(), None)

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= self._clock() - WINDOW_SECONDS:
            failures.popleft()
        return failures
