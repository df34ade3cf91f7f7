"""API keys as an in-process map, so authenticating a request costs no database round trip.

The map (SHA-256 of the secret → key id) is reloaded from the database every
`refresh_seconds` (0.5 s) by a background thread, so a key revoked in any process stops
working everywhere within a second; the process that revokes or creates a key updates its
own map at once. Last-use times are collected in memory and written once a minute.
Keys are 256-bit random secrets: a fast hash is enough to store them (they cannot be
guessed). The lookup is keyed by the SHA-256 of the presented secret, so its timing depends
only on that digest, which a caller cannot steer towards a stored one: nothing about a
valid key leaks through it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

log = logging.getLogger("drawdown.keys")

REFRESH_SECONDS = 0.5
LAST_USED_FLUSH_SECONDS = 60.0
ENV_SCOPE_PREFIX = "env:"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class KeyCache:
    def __init__(self) -> None:
        self._by_hash: dict[str, str] = {}  # key hash -> scope (key id or env:…)
        self._env: dict[str, str] = {}
        self._last_used: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._load: Callable[[], Iterable[tuple[str, str]]] | None = None
        self._flush: Callable[[dict[str, datetime]], None] | None = None
        self._clock: Callable[[], datetime] | None = None

    # --- wiring (composition root) ------------------------------------------------------

    def configure(
        self,
        *,
        env_keys: Iterable[str],
        load: Callable[[], Iterable[tuple[str, str]]],
        flush: Callable[[dict[str, datetime]], None],
        clock: Callable[[], datetime],
    ) -> None:
        """`load` yields (key id, key hash) of active keys; `flush` stores last-use times."""
        self._env = {hash_secret(k): ENV_SCOPE_PREFIX + hash_secret(k)[:16] for k in env_keys}
        self._load, self._flush, self._clock = load, flush, clock
        self.reload()

    def start(self, refresh_seconds: float = REFRESH_SECONDS) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._refresh, args=(refresh_seconds,), name="drawdown-keys", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._flush_last_used()

    # --- the request path ---------------------------------------------------------------

    def verify(self, presented: str) -> str | None:
        """The scope (key id) a presented secret authenticates as, or None."""
        digest = hash_secret(presented)
        scope = self._env.get(digest) or self._by_hash.get(digest)
        if scope is None:
            return None
        if self._clock is not None and not scope.startswith(ENV_SCOPE_PREFIX):
            self._last_used[scope] = self._clock()
        return scope

    # --- changes made by this process (visible at once) ----------------------------------

    def added(self, key_id: str, key_hash: str) -> None:
        with self._lock:
            self._by_hash = {**self._by_hash, key_hash: key_id}

    def revoked(self, key_id: str) -> None:
        with self._lock:
            self._by_hash = {h: k for h, k in self._by_hash.items() if k != key_id}

    # --- refreshing -----------------------------------------------------------------------

    def reload(self) -> None:
        if self._load is None:
            return
        fresh = {key_hash: key_id for key_id, key_hash in self._load()}
        with self._lock:
            self._by_hash = fresh  # replaced whole: readers never see a half-built map

    def _refresh(self, every: float) -> None:
        flush_every = max(1, round(LAST_USED_FLUSH_SECONDS / every))
        ticks = 0
        while not self._stop.wait(every):
            ticks += 1
            try:
                self.reload()
                if ticks % flush_every == 0:
                    self._flush_last_used()
            except Exception as exc:  # the database may be briefly unreachable; keep going
                log.warning("could not refresh API keys: %s", exc)

    def _flush_last_used(self) -> None:
        if not self._last_used or self._flush is None:
            return
        used, self._last_used = self._last_used, {}
        try:
            self._flush(used)
        except Exception as exc:
            log.warning("could not record API key use: %s", exc)
