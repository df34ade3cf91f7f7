"""Optional per-API-key rate limiting (docs/rules.md §1.8: 429 with Retry-After).

A token bucket per key, per process: with N processes the effective limit is N times
the setting. Off when `DRAWDOWN_RATE_LIMIT_PER_SECOND` is 0 (the default), because a
self-hosted ledger usually sits behind the operator's own gateway.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second = per_second
        self.burst = max(burst, 1)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def retry_after_seconds(self, key: str) -> int:
        """0 if a request for `key` may proceed now (and take a token), else seconds to wait."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(
                self.burst, bucket.tokens + (now - bucket.updated) * self.per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.per_second))
