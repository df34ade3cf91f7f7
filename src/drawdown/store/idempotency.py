"""SQL for idempotency records: one row per (scope, key), written with the request's writes.

The lookup and the insert are prepared statements: every POST that carries a key (the SDKs
always send one) runs both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select

from drawdown.records import StoredResponse
from drawdown.store import ranks
from drawdown.store.prepared import Prepared
from drawdown.store.schema import idempotency_keys
from drawdown.store.sqlfuncs import in_list
from drawdown.store.tx import Tx

_ik = idempotency_keys.c

_LOOKUP = Prepared(
    lambda: select(_ik.fingerprint, _ik.status_code, _ik.body, _ik.created_at).where(
        _ik.scope == bindparam("scope"), _ik.key == bindparam("key")
    )
)
_INSERT = Prepared(lambda: insert(idempotency_keys), bulk_rank=ranks.IDEMPOTENCY_INSERT)
_DELETE = Prepared(
    lambda: delete(idempotency_keys).where(
        _ik.scope == bindparam("scope"), _ik.key == bindparam("key")
    ),
    bulk_rank=ranks.IDEMPOTENCY_DELETE,
)

# A record drawdown before 0.2 left "in progress" (no response): still refused on retry.
IN_PROGRESS = -1


def lookup(tx: Tx, scope: str, key: str) -> StoredResponse | None:
    """The stored response of a key (in a batch, from its cache when it was loaded)."""
    if tx.batch is not None and (scope, key) in tx.batch.responses:
        return tx.batch.responses[(scope, key)]
    row = tx.one(_LOOKUP, {"scope": scope, "key": key})
    return None if row is None else _response(tx, row[2:])


def _response(tx: Tx, row: Sequence[Any]) -> StoredResponse:
    fingerprint, status, body, created_at = row
    created = tx.codec.read_instant(created_at)
    status_code = IN_PROGRESS if status is None else int(status)
    return StoredResponse(fingerprint, status_code, (body or "").encode(), created)


_BATCH_LOOKUP = Prepared(
    lambda dialect: select(
        _ik.scope, _ik.key, _ik.fingerprint, _ik.status_code, _ik.body, _ik.created_at
    ).where(in_list(_ik.scope, "scopes", dialect), in_list(_ik.key, "keys", dialect)),
    per_dialect=True,
)


def load(tx: Tx, keys: Sequence[tuple[str, str]]) -> None:
    """Load the records of a batch's (scope, key)s into its cache, in one query (both
    columns as lists, so it is a lookup of the primary key)."""
    assert tx.batch is not None
    if not keys:
        return
    wanted = set(keys)
    responses = tx.batch.responses
    for pair in wanted:
        responses[pair] = None
    params = {"scopes": tx.codec.texts(sorted({scope for scope, _ in wanted})),
              "keys": tx.codec.texts(sorted({key for _, key in wanted}))}  # fmt: skip
    for row in tx.rows(_BATCH_LOOKUP, params):
        if (row[0], row[1]) in wanted:
            responses[(row[0], row[1])] = _response(tx, row[2:])


def store(tx: Tx, scope: str, key: str, response: StoredResponse) -> None:
    if tx.batch is not None:
        tx.batch.responses[(scope, key)] = response
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
    if tx.batch is not None:
        tx.batch.responses[(scope, key)] = None
    tx.write(_DELETE, {"scope": scope, "key": key})


def purge_older_than(tx: Tx, cutoff: datetime) -> int:
    result = tx.execute(delete(idempotency_keys).where(_ik.created_at < cutoff))
    return int(result.rowcount)
