"""Console administrator accounts: creation and password sign-in.

Passwords are hashed with argon2id (they are guessable, unlike API keys, so the hash must
be slow). Sign-in spends the same hashing work whether or not the email exists, so the
response time does not reveal which accounts exist.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import RowMapping

from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField
from drawdown.store import console as store
from drawdown.store.engine import read_transaction, write_transaction

PASSWORD_LENGTH_MIN = 12
PASSWORD_LENGTH_MAX = 256  # argon2 hashes anything, but a bound keeps sign-in cheap to serve
EMAIL_LENGTH_MAX = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class CreatedAdmin:
    id: str
    email: str
    password: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_admin(ctx: ServiceContext, email: str, password: str | None = None) -> CreatedAdmin:
    """Create an account; without `password` one is generated (returned once, never stored)."""
    email = normalize_email(email)
    if len(email) > EMAIL_LENGTH_MAX or not _EMAIL.match(email):
        raise InvalidField("email", "must be a valid email address")
    password = password if password is not None else secrets.token_urlsafe(18)
    _check_password(password)
    admin = CreatedAdmin(id=ctx.new_id(), email=email, password=password)
    with write_transaction(ctx.engine) as conn:
        created = store.insert_admin(
            conn,
            admin_id=admin.id,
            email=email,
            password_hash=_hasher.hash(password),
            now=ctx.now(),
        )
    if not created:
        raise InvalidField("email", f"an administrator with email {email} already exists")
    return admin


def _check_password(password: str) -> None:
    if not PASSWORD_LENGTH_MIN <= len(password) <= PASSWORD_LENGTH_MAX:
        raise InvalidField(
            "password", f"must be {PASSWORD_LENGTH_MIN}-{PASSWORD_LENGTH_MAX} characters"
        )


def authenticate(ctx: ServiceContext, email: str, password: str) -> RowMapping | None:
    """The admin row if the credentials match, else None."""
    with read_transaction(ctx.engine) as conn:
        row = store.admin_by_email(conn, normalize_email(email))
    if len(password) > PASSWORD_LENGTH_MAX:
        return None
    if not _verify(row["password_hash"] if row else _DUMMY_HASH, password) or row is None:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        with write_transaction(ctx.engine) as conn:
            store.update_password_hash(conn, row["id"], _hasher.hash(password))
    return row


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_admin(ctx: ServiceContext, admin_id: str) -> RowMapping | None:
    with read_transaction(ctx.engine) as conn:
        return store.admin_by_id(conn, admin_id)


def end_sessions(ctx: ServiceContext, admin_id: str) -> None:
    """Sign out everywhere: every session cookie issued so far stops working."""
    with write_transaction(ctx.engine) as conn:
        store.bump_session_generation(conn, admin_id)
