"""SQL for idempotency records: a claim row per (scope, key), completed with the response."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.engine import RowMapping

from drawdown.store.engine import execute_unless_duplicate
from drawdown.store.schema import idempotency_keys


def claim(conn: Connection, scope: str, key: str, fingerprint: str, now: datetime) -> bool:
    """Insert an in-progress record; False when the key already has one."""
    statement = idempotency_keys.insert().values(
        scope=scope, key=key, fingerprint=fingerprint, created_at=now
    )
    return execute_unless_duplicate(conn, statement)


def get(conn: Connection, scope: str, key: str) -> RowMapping | None:
    query = select(idempotency_keys).where(
        idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
    )
    return conn.execute(query).mappings().first()


def complete(conn: Connection, scope: str, key: str, status_code: int, body: str) -> None:
    conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(status_code=status_code, body=body)
    )


def release(conn: Connection, scope: str, key: str) -> None:
    conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    )


def purge_older_than(conn: Connection, cutoff: datetime) -> int:
    result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
    return result.rowcount
