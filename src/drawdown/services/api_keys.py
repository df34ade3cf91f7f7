"""API keys: create (secret shown once), list, revoke, verify.

Keys are 256-bit random secrets, so a fast SHA-256 hash is enough to store them
safely (unlike passwords they cannot be guessed); lookup is by hash and the hash
is then compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import RowMapping

from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.store import api_keys as store
from drawdown.store.engine import read_transaction, write_transaction

KEY_PREFIX = "dd_"
NAME_LENGTH_MAX = 255
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    id: str
    name: str
    prefix: str
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(ctx: ServiceContext, name: str) -> CreatedKey:
    name = name.strip()
    if not 1 <= len(name) <= NAME_LENGTH_MAX:
        raise InvalidField("name", f"must be 1-{NAME_LENGTH_MAX} characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = CreatedKey(id=ctx.new_id(), name=name, prefix=secret[:10], secret=secret)
    with write_transaction(ctx.engine) as conn:
        store.insert(
            conn,
            key_id=key.id,
            name=key.name,
            prefix=key.prefix,
            key_hash=hash_secret(secret),
            now=ctx.now(),
        )
    return key


def list_keys(ctx: ServiceContext) -> list[RowMapping]:
    with read_transaction(ctx.engine) as conn:
        return store.list_all(conn)


def revoke_key(ctx: ServiceContext, key_id: str) -> None:
    with write_transaction(ctx.engine) as conn:
        if not store.revoke(conn, key_id, ctx.now()):
            raise ResourceNotFound("ApiKey", key_id)


def has_active_key(ctx: ServiceContext) -> bool:
    with read_transaction(ctx.engine) as conn:
        return store.count_active(conn) > 0


def verify(ctx: ServiceContext, presented: str) -> str | None:
    """The scope (key id) a presented secret authenticates as, or None."""
    for env_key in ctx.settings.env_api_keys:
        if hmac.compare_digest(presented.encode(), env_key.encode()):
            return "env:" + hash_secret(env_key)[:16]
    digest = hash_secret(presented)
    with read_transaction(ctx.engine) as conn:
        row = store.find_by_hash(conn, digest)
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    if row["revoked_at"] is not None:
        return None
    _touch(ctx, row)
    return str(row["id"])


def _touch(ctx: ServiceContext, row: RowMapping) -> None:
    # Recording every use would turn each read into a write; minute resolution is plenty.
    now = ctx.now()
    last_used: datetime | None = row["last_used_at"]
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        with write_transaction(ctx.engine, bookkeeping=True) as conn:
            store.touch(conn, row["id"], now)
