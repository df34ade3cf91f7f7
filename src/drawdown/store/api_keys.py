"""SQL for API keys: only hashes are stored; the secret itself never touches the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import RowMapping

from drawdown.store.schema import api_keys


def insert(
    conn: Connection, *, key_id: str, name: str, prefix: str, key_hash: str, now: datetime
) -> None:
    conn.execute(
        api_keys.insert().values(
            id=key_id, name=name, prefix=prefix, key_hash=key_hash, created_at=now
        )
    )


def find_by_hash(conn: Connection, key_hash: str) -> RowMapping | None:
    query = select(api_keys).where(api_keys.c.key_hash == key_hash)
    return conn.execute(query).mappings().first()


def list_all(conn: Connection) -> list[RowMapping]:
    query = select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.id)
    return list(conn.execute(query).mappings())


def count_active(conn: Connection) -> int:
    query = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
    return int(conn.execute(query).scalar_one())


def revoke(conn: Connection, key_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


def touch(conn: Connection, key_id: str, now: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))
