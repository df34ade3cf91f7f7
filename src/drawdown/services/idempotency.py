"""Idempotency-Key handling for POSTs (spec §1.9).

A key is claimed in its own committed transaction before the request runs, so a
racing duplicate sees the claim and gets a retryable 409 instead of executing a
second time. The response is recorded after the request; a 5xx releases the claim
so the key can be reused. If the process died between the business commit and
recording the response, the claim stays in progress and retries get 409: the
failure mode is "refuse", never "write twice".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from drawdown.services.context import ServiceContext
from drawdown.services.errors import Conflict, InvalidField
from drawdown.store import idempotency as store
from drawdown.store.engine import write_transaction


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str


class KeyInProgress(Conflict):
    def __init__(self) -> None:
        super().__init__(None, "A request with this Idempotency-Key is still in progress.")


class KeyReusedWithDifferentRequest(Conflict):
    def __init__(self) -> None:
        super().__init__(
            None,
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request.",
        )


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def claim(ctx: ServiceContext, scope: str, key: str, print_: str) -> StoredResponse | None:
    """Claim the key for this request, or return the stored response to replay."""
    if not 1 <= len(key) <= ctx.settings.idempotency_key_length_max:
        limit = ctx.settings.idempotency_key_length_max
        raise InvalidField("Idempotency-Key", f"must be 1-{limit} characters")
    now = ctx.now()
    with write_transaction(ctx.engine, bookkeeping=True) as conn:
        if store.claim(conn, scope, key, print_, now):
            return None
        row = store.get(conn, scope, key)
        if row is None:  # released by a failed (5xx) attempt since our insert lost
            raise KeyInProgress()
        if row["created_at"] < now - timedelta(hours=ctx.settings.idempotency_ttl_hours):
            store.release(conn, scope, key)
            store.claim(conn, scope, key, print_, now)
            return None
    if row["fingerprint"] != print_:
        raise KeyReusedWithDifferentRequest()
    if row["status_code"] is None:
        raise KeyInProgress()
    return StoredResponse(status_code=row["status_code"], body=row["body"])


def record(ctx: ServiceContext, scope: str, key: str, response: StoredResponse) -> None:
    with write_transaction(ctx.engine, bookkeeping=True) as conn:
        if response.status_code >= 500:
            store.release(conn, scope, key)
        else:
            store.complete(conn, scope, key, response.status_code, response.body)


def purge_expired(ctx: ServiceContext) -> int:
    cutoff = ctx.now() - timedelta(hours=ctx.settings.idempotency_ttl_hours)
    with write_transaction(ctx.engine, bookkeeping=True) as conn:
        return store.purge_older_than(conn, cutoff)
