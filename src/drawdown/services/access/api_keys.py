"""API keys: create (secret shown once), list, revoke; the cache that verifies them.

Keys are 256-bit random secrets stored only as SHA-256 hashes (`access/key_cache.py` says
why that is enough). Creating or revoking a key updates this process's cache at once;
other processes see it within their refresh interval (half a second).

The console shows a new key's secret on the page after the form's redirect. Between the two
requests (which may reach different processes) the secret waits on the server, XORed with a
one-time pad, in a record that the page deletes as it reads it and that expires after
`REVEAL_SECONDS_MAX`; the browser holds only the record's id and the pad (web/keys.py). So
the secret never travels in a cookie, and neither the database nor the cookie alone holds
it.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from drawdown.records import ApiKey
from drawdown.services import write_path
from drawdown.services.access.key_cache import hash_secret
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.store import api_keys as store
from drawdown.store import console as secrets_store
from drawdown.store.tx import Tx

KEY_PREFIX = "dd_"
NAME_LENGTH_MAX = 255
REVEAL_PREFIX = "api_key_reveal:"
REVEAL_SECONDS_MAX = 300


@dataclass(frozen=True)
class CreatedKey:
    id: str
    name: str
    prefix: str
    secret: str


@dataclass(frozen=True)
class Reveal:
    """What the browser keeps to show a new key's secret once: the server-side record's
    id and the pad that unmasks it (base64)."""

    record_id: str
    pad: str


def create_key(ctx: ServiceContext, name: str) -> CreatedKey:
    key, record = _new_key(ctx, name)

    def insert(tx: Tx, _now: datetime) -> None:
        store.insert(tx, record)

    write_path.work(insert).run(ctx)
    ctx.keys.added(record.id, record.key_hash)
    return key


def create_key_to_reveal(ctx: ServiceContext, name: str) -> Reveal:
    """Create a key and hold its secret, masked, for one `reveal` (one transaction)."""
    key, record = _new_key(ctx, name)
    pad = secrets.token_bytes(len(key.secret))
    reveal = Reveal(record_id=secrets.token_urlsafe(16), pad=_b64(pad))

    def insert(tx: Tx, now: datetime) -> None:
        store.insert(tx, record)
        held = {"k": key.id, "m": _b64(_xor(key.secret.encode(), pad)), "t": now.isoformat()}
        secrets_store.insert_secret(tx, REVEAL_PREFIX + reveal.record_id, json.dumps(held))
        _forget_expired_reveals(tx, now)

    write_path.work(insert).run(ctx)
    ctx.keys.added(record.id, record.key_hash)
    return reveal


def reveal(ctx: ServiceContext, held: Reveal) -> CreatedKey | None:
    """The new key, secret included, once; None if it was shown already, expired, or the
    pad does not fit."""

    def take(tx: Tx, now: datetime) -> str | None:
        return secrets_store.take_secret(tx, REVEAL_PREFIX + held.record_id)

    stored = write_path.work(take).run(ctx)
    if stored is None:
        return None
    data = json.loads(stored)
    if _expired(data["t"], ctx.now()):
        return None
    try:
        pad = base64.urlsafe_b64decode(held.pad)
    except ValueError:
        return None
    masked = base64.urlsafe_b64decode(data["m"])
    if len(pad) != len(masked):
        return None
    secret = _xor(masked, pad).decode("utf-8", "replace")
    name = next((k.name for k in list_keys(ctx) if k.id == data["k"]), "")
    return CreatedKey(id=data["k"], name=name, prefix=secret[:10], secret=secret)


def _new_key(ctx: ServiceContext, name: str) -> tuple[CreatedKey, ApiKey]:
    name = name.strip()
    if not 1 <= len(name) <= NAME_LENGTH_MAX:
        raise InvalidField("name", f"must be 1-{NAME_LENGTH_MAX} characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = CreatedKey(id=ctx.new_id(), name=name, prefix=secret[:10], secret=secret)
    record = ApiKey(key.id, key.name, key.prefix, hash_secret(secret), ctx.now(), None, None)
    return key, record


def _forget_expired_reveals(tx: Tx, now: datetime) -> None:
    """Secrets nobody came to see (the browser went away) are deleted with the next key."""
    held = secrets_store.secrets_named(tx, REVEAL_PREFIX)
    secrets_store.delete_secrets(
        tx, [name for name, value in held if _expired(json.loads(value)["t"], now)]
    )


def _expired(created_at: str, now: datetime) -> bool:
    age = now - datetime.fromisoformat(created_at)
    return age > timedelta(seconds=REVEAL_SECONDS_MAX)


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


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
