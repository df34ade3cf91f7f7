"""SQL for API keys: only hashes are stored; the secret itself never touches the database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select, update

from drawdown.records import ApiKey
from drawdown.store.rows import record_of
from drawdown.store.schema import api_keys
from drawdown.store.tx import Tx


def insert(tx: Tx, key: ApiKey) -> None:
    tx.execute(api_keys.insert().values(**key.__dict__))


def list_all(tx: Tx) -> list[ApiKey]:
    query = select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.id)
    return [record_of(ApiKey, row) for row in tx.execute(query).mappings()]


def count_active(tx: Tx) -> int:
    query = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
    return int(tx.execute(query).scalar_one())


def revoke(tx: Tx, key_id: str, now: datetime) -> bool:
    result = tx.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount) == 1


def record_use(tx: Tx, last_used: Mapping[str, datetime]) -> None:
    """Store the newest use of each key (the in-memory cache collects them between flushes)."""
    for key_id, at in last_used.items():
        tx.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))
