"""Sign-in throttling for the console, shared by every server process through the database.

Attempts are counted per account, never per client address: an address is shared by
everyone behind one NAT or proxy (a per-address lockout lets one of them lock out the
rest), and it is forged wherever forwarded headers are believed too widely.

* **Per-account exponential backoff.** The failures of the last `WINDOW` count. The first
  `FAILURES_FREE` cost nothing; after the n-th, the account can be tried again only
  `BACKOFF_SECONDS_MIN * 2**(n - FAILURES_FREE)` seconds after its latest failure, at most
  `BACKOFF_SECONDS_MAX`. An attempt inside the wait is refused before any password check.
* **Browsers the admin used before keep their own count.** A successful sign-in gives the
  browser a device token bound to that account (a signed cookie, web/session.py); its
  attempts count under (account, device), so strangers' failures on the account never
  delay the admin's own browsers. Only a browser new to the account shares the account's
  count, and strangers' failures can slow that one down.
* **An unknown email is an account of its own**: its failures delay nothing else, and it
  is throttled exactly like a real account, so a 429 does not reveal which emails exist.
* **Concurrent guesses count too.** An attempt is recorded as a failure *before* the
  password is checked (one write that decides and records), and forgotten if it succeeds;
  so a burst of parallel guesses sees itself and is refused after `FAILURES_FREE`.

The work the checks cost is bounded globally in `admins.py` (checks per second). Rows hold
a hash of the key, not the email, so their size is fixed; rows older than `WINDOW` are
deleted as new failures arrive, and the global bound on checks bounds how fast rows can
be added.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.store import console as store
from drawdown.store.tx import Tx

FAILURES_FREE = 5
BACKOFF_SECONDS_MIN = 5
BACKOFF_SECONDS_MAX = 15 * 60
# Long enough that an attack at the slowest pace keeps the count up (15 min apart, the
# failures of 4 hours stay above FAILURES_FREE + the 8 doublings up to the longest wait).
WINDOW = timedelta(hours=4)


@dataclass(frozen=True)
class Device:
    """A browser that signed in to an account: `account` is that account's digest."""

    account: str
    token: str


@dataclass(frozen=True)
class Attempt:
    """An attempt the throttle let through, already counted as a failure (`failure_id`)."""

    key: str
    failure_id: str


def account_digest(email: str) -> str:
    return _digest("account", email.strip().lower())


def new_device(email: str) -> Device:
    """The device token a browser receives when it signs in to `email`'s account."""
    return Device(account=account_digest(email), token=secrets.token_urlsafe(16))


def throttle_key(email: str, device: Device | None) -> str:
    """What an attempt counts under: the account, or (account, device) for a browser that
    signed in to this very account before (a token for another account counts for nothing)."""
    account = account_digest(email)
    if device is not None and secrets.compare_digest(device.account, account):
        return _digest("device", account, device.token)
    return account


def retry_after_seconds(failures: int, latest: datetime | None, now: datetime) -> int:
    """How long the key must wait before its next attempt (0: it may try now)."""
    if failures < FAILURES_FREE or latest is None:
        return 0
    wait = min(BACKOFF_SECONDS_MIN * 2 ** (failures - FAILURES_FREE), BACKOFF_SECONDS_MAX)
    remaining = (latest + timedelta(seconds=wait) - now).total_seconds()
    return max(0, int(-(-remaining // 1)))  # whole seconds, rounded up


def begin(ctx: ServiceContext, email: str, device: Device | None) -> Attempt | int:
    """Let an attempt through, counted as a failure until it succeeds; or the seconds to
    wait before the next one may be made."""
    key = throttle_key(email, device)
    failure_id = ctx.new_id()

    def decide(tx: Tx, now: datetime) -> Attempt | int:
        failures, latest = store.recent_failures(tx, key, now - WINDOW)
        wait = retry_after_seconds(failures, latest, now)
        if wait:
            return wait
        store.record_failure(tx, failure_id, key, now, now - WINDOW)
        return Attempt(key=key, failure_id=failure_id)

    return write_path.work(decide).run(ctx)


def succeeded(ctx: ServiceContext, attempt: Attempt) -> None:
    """The password was right: the key's failures are forgotten."""

    def forget(tx: Tx, _now: datetime) -> None:
        store.forget_failures(tx, attempt.key)

    write_path.work(forget).run(ctx)


def withdrawn(ctx: ServiceContext, attempt: Attempt) -> None:
    """The password was never checked (the server was busy): the attempt does not count."""

    def withdraw(tx: Tx, _now: datetime) -> None:
        store.delete_failure(tx, attempt.failure_id)

    write_path.work(withdraw).run(ctx)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
