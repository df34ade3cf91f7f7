"""API keys: create (secret shown once), list, revoke; the cache that verifies them.

Keys are 256-bit random secrets stored only as SHA-256 hashes (`access/key_cache.py` says
why that is enough). Creating or revoking a key updates this process's cache at once;
other processes see it within their refresh interval (half a second).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from drawdown.services import write_path
from drawdown.services.access.key_cache import hash_secret
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.store import api_keys as store
from drawdown.store.records import ApiKey
from drawdown.store.tx import Tx

KEY_PREFIX = "dd_"
NAME_LENGTH_MAX = 255


@dataclass(frozen=True)
class CreatedKey:
    id: str
    name: str
    prefix: str
    secret: str


def create_key(ctx: ServiceContext, name: str) -> CreatedKey:
    name = name.strip()
    if not 1 <= len(name) <= NAME_LENGTH_MAX:
        raise InvalidField("name", f"must be 1-{NAME_LENGTH_MAX} characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = CreatedKey(id=ctx.new_id(), name=name, prefix=secret[:10], secret=secret)
    record = ApiKey(key.id, key.name, key.prefix, hash_secret(secret), ctx.now(), None, None)

    def insert(tx: Tx, _now: datetime) -> None:
        store.insert(tx, record)

    write_path.work(insert).run(ctx)
    ctx.keys.added(record.id, record.key_hash)
    return key


def list_keys(ctx: ServiceContext) -> list[ApiKey]:
    with ctx.db.read() as tx:
        return store.list_all(tx)


def revoke_key(ctx: ServiceContext, key_id: str) -> None:
    def revoke(tx: Tx, now: datetime) -> None:
        if not store.revoke(tx, key_id, now):
            raise ResourceNotFound("ApiKey", key_id)

    write_path.work(revoke).run(ctx)
    ctx.keys.revoked(key_id)


def has_active_key(ctx: ServiceContext) -> bool:
    with ctx.db.read() as tx:
        return store.count_active(tx) > 0


def active_key_hashes(ctx: ServiceContext) -> Iterable[tuple[str, str]]:
    """(key id, key hash) of every key not revoked: what the cache reloads."""
    return [(k.id, k.key_hash) for k in list_keys(ctx) if k.revoked_at is None]


def record_use(ctx: ServiceContext, last_used: dict[str, datetime]) -> None:
    def flush(tx: Tx, _now: datetime) -> None:
        store.record_use(tx, last_used)

    write_path.work(flush).run(ctx)


def start_cache(ctx: ServiceContext, *, refresh: bool = True) -> None:
    """Load the keys into this process's cache and keep it fresh (composition root)."""
    ctx.keys.configure(
        env_keys=ctx.settings.env_api_keys,
        load=lambda: active_key_hashes(ctx),
        flush=lambda used: record_use(ctx, used),
        clock=ctx.now,
    )
    if refresh:
        ctx.keys.start()
