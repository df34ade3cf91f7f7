"""Console administrator accounts: create, list, reset a password, remove; password sign-in.

Passwords are hashed with argon2id (they are guessable, unlike API keys, so the hash must
be slow and memory-hard: 64 MiB per check). So that the public sign-in form cannot be used
to exhaust the server, checks run at most `PASSWORD_CHECKS_CONCURRENT_MAX` at a time and at
most `DRAWDOWN_SIGNIN_CHECKS_PER_SECOND` per second and process, in order of arrival (an
attempt whose turn is more than `CHECK_WAIT_SECONDS_MAX` away is refused: the server is
busy). A sign-in for an unknown email runs no check at all: it takes its turn like any other
and waits as long as a real check takes (measured once), so neither the response time nor
a busy answer reveals which accounts exist.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from drawdown.records import Admin
from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.services.emails import EMAIL_LENGTH_MAX, check_email
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.store import console as store
from drawdown.store.tx import Tx

PASSWORD_LENGTH_MIN = 12
PASSWORD_LENGTH_MAX = 256  # argon2 hashes anything, but a bound keeps sign-in cheap to serve
PASSWORD_CHECKS_CONCURRENT_MAX = 2  # x 64 MiB: the most memory sign-ins can take at once
CHECK_WAIT_SECONDS_MAX = 10.0

_hasher = PasswordHasher()
_checks = threading.BoundedSemaphore(PASSWORD_CHECKS_CONCURRENT_MAX)
_check_seconds: list[float] = []  # how long one real check took, measured at first use
_measuring = threading.Lock()


class PasswordChecksBusy(Exception):
    """This process checks passwords as fast as it may; the attempt was not checked."""


class Pace:
    """At most `rate` turns a second on average, in bursts of up to `burst`, handed out in
    order of arrival; a turn more than `wait_max` seconds away is refused (None).

    The generic cell rate algorithm: `_due` is when the next turn is due at the steady rate,
    and a turn may come `burst - 1` intervals early."""

    def __init__(self, rate: float, burst: int, wait_max: float) -> None:
        assert rate > 0 and burst >= 1
        self._interval = 1 / rate
        self._early = (burst - 1) * self._interval
        self._wait_max = wait_max
        self._due = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float | None:
        """Seconds to wait for this turn, or None if it is too far away."""
        with self._lock:
            now = time.monotonic()
            due = max(self._due, now)
            wait = due - self._early - now
            if wait > self._wait_max:
                return None
            self._due = due + self._interval
            return max(0.0, wait)


_paces: dict[float, Pace] = {}  # by rate: one per process and setting


def _take_turn(ctx: ServiceContext) -> None:
    rate = ctx.settings.signin_checks_per_second
    pace = _paces.get(rate)
    if pace is None:
        pace = _paces.setdefault(rate, Pace(rate, math.ceil(rate), CHECK_WAIT_SECONDS_MAX))
    wait = pace.reserve()
    if wait is None:
        raise PasswordChecksBusy
    time.sleep(wait)


@dataclass(frozen=True)
class CreatedAdmin:
    id: str
    email: str
    password: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_admin(ctx: ServiceContext, email: str, password: str | None = None) -> CreatedAdmin:
    """Create an account; without `password` one is generated (returned once, never stored)."""
    email = check_email(normalize_email(email))
    password = password if password is not None else secrets.token_urlsafe(18)
    _check_password(password)
    admin = CreatedAdmin(id=ctx.new_id(), email=email, password=password)
    password_hash = _hasher.hash(password)

    def insert(tx: Tx, now: datetime) -> bool:
        return store.insert_admin(
            tx, admin_id=admin.id, email=email, password_hash=password_hash, now=now
        )

    if not write_path.work(insert).run(ctx):
        raise InvalidField("email", f"an administrator with email {email} already exists")
    return admin


def list_admins(ctx: ServiceContext) -> list[Admin]:
    with ctx.db.read() as tx:
        return store.list_admins(tx)


def reset_password(ctx: ServiceContext, email: str, password: str | None = None) -> CreatedAdmin:
    """Set a new password (generated if not given) and end every session of that admin."""
    email = normalize_email(email)
    password = password if password is not None else secrets.token_urlsafe(18)
    _check_password(password)
    password_hash = _hasher.hash(password)

    def reset(tx: Tx, _now: datetime) -> Admin:
        admin = store.admin_by_email(tx, email)
        if admin is None:
            raise ResourceNotFound("Administrator", email)
        store.update_password_hash(tx, admin.id, password_hash)
        store.bump_session_generation(tx, admin.id)
        return admin

    admin = write_path.work(reset).run(ctx)
    return CreatedAdmin(id=admin.id, email=admin.email, password=password)


def remove_admin(ctx: ServiceContext, email: str) -> None:
    email = normalize_email(email)

    def remove(tx: Tx, _now: datetime) -> None:
        admin = store.admin_by_email(tx, email)
        if admin is None or not store.delete_admin(tx, admin.id):
            raise ResourceNotFound("Administrator", email)

    write_path.work(remove).run(ctx)


def _check_password(password: str) -> None:
    if not PASSWORD_LENGTH_MIN <= len(password) <= PASSWORD_LENGTH_MAX:
        raise InvalidField(
            "password", f"must be {PASSWORD_LENGTH_MIN}-{PASSWORD_LENGTH_MAX} characters"
        )


def authenticate(ctx: ServiceContext, email: str, password: str) -> Admin | None:
    """The admin if the credentials match, else None (blocking: run it in a thread);
    PasswordChecksBusy when this process may not check another password for a while."""
    if len(password) > PASSWORD_LENGTH_MAX or len(email) > EMAIL_LENGTH_MAX:
        return None
    _take_turn(ctx)
    with ctx.db.read() as tx:
        admin = store.admin_by_email(tx, normalize_email(email))
    if admin is None:
        time.sleep(_typical_check_seconds())
        return None
    if not _verify(admin.password_hash, password):
        return None
    if _hasher.check_needs_rehash(admin.password_hash):
        password_hash = _hasher.hash(password)

        def rehash(tx: Tx, _now: datetime) -> None:
            store.update_password_hash(tx, admin.id, password_hash)

        write_path.work(rehash).run(ctx)
    return admin


def _verify(password_hash: str, password: str) -> bool:
    with _checks:
        started = time.perf_counter()
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        finally:
            if not _check_seconds:
                _check_seconds.append(time.perf_counter() - started)


def _typical_check_seconds() -> float:
    """How long a real check takes: measured once, with a throwaway hash made under the same
    bound as checks (hashing costs the same 64 MiB). Concurrent first sign-ins wait for that
    one measurement instead of each hashing at once; later unknown emails only sleep."""
    if not _check_seconds:
        with _measuring:
            if not _check_seconds:
                with _checks:
                    throwaway = _hasher.hash(secrets.token_urlsafe(16))
                _verify(throwaway, "not the password")
    return _check_seconds[0]


def get_admin(ctx: ServiceContext, admin_id: str) -> Admin | None:
    with ctx.db.read() as tx:
        return store.admin_by_id(tx, admin_id)


def end_sessions(ctx: ServiceContext, admin_id: str) -> None:
    """Sign out everywhere: every session cookie issued so far stops working."""

    def bump(tx: Tx, _now: datetime) -> None:
        store.bump_session_generation(tx, admin_id)

    write_path.work(bump).run(ctx)
