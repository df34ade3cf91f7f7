"""SQL for idempotency records: one row per (scope, key), written with the request's writes.

The lookup and the insert are prepared statements: every POST that carries a key (the SDKs
always send one) runs both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select

from drawdown.store.prepared import Prepared
from drawdown.store.records import StoredResponse
from drawdown.store.schema import idempotency_keys
from drawdown.store.tx import Tx

_ik = idempotency_keys.c

_LOOKUP = Prepared(
    lambda: select(_ik.fingerprint, _ik.status_code, _ik.body, _ik.created_at).where(
        _ik.scope == bindparam("scope"), _ik.key == bindparam("key")
    )
)
_INSERT = Prepared(lambda: insert(idempotency_keys))
_DELETE = Prepared(
    lambda: delete(idempotency_keys).where(
        _ik.scope == bindparam("scope"), _ik.key == bindparam("key")
    )
)

# A record drawdown before 0.2 left "in progress" (no response): still refused on retry.
IN_PROGRESS = -1


def lookup(tx: Tx, scope: str, key: str) -> StoredResponse | None:
    row = tx.one(_LOOKUP, {"scope": scope, "key": key})
    if row is None:
        return None
    fingerprint, status, body, created_at = row
    created = tx.codec.read_instant(created_at)
    assert created is not None
    status_code = IN_PROGRESS if status is None else int(status)
    return StoredResponse(fingerprint, status_code, (body or "").encode(), created)


def store(tx: Tx, scope: str, key: str, response: StoredResponse) -> None:
    tx.write(
        _INSERT,
        {
            "scope": scope,
            "key": key,
            "fingerprint": response.fingerprint,
            "status_code": response.status_code,
            "body": response.body.decode(),
            "created_at": tx.codec.instant(response.created_at),
        },
    )


def forget(tx: Tx, scope: str, key: str) -> None:
    tx.write(_DELETE, {"scope": scope, "key": key})


def purge_older_than(tx: Tx, cutoff: datetime) -> int:
    result = tx.execute(delete(idempotency_keys).where(_ik.created_at < cutoff))
    return int(result.rowcount)
