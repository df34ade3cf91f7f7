"""Idempotency keys (docs/rules.md §1.9): what identifies a request, and purging old records.

The records themselves are read and written inside each write's own transaction by the
write path (`services/write_path.py`), so a stored response exists exactly when the
request's writes do.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.services.write_path import Idempotency
from drawdown.store import idempotency as store
from drawdown.store.tx import Tx


def for_request(scope: str, key: str, method: str, path: str, body: Any) -> Idempotency:
    """The request's key and fingerprint: SHA-256 over method, path and canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()
    return Idempotency(scope=scope, key=key, fingerprint=digest)


def purge_expired(ctx: ServiceContext) -> int:
    """Forget records older than the retention (48 h by default); returns how many."""
    cutoff = ctx.now() - timedelta(hours=ctx.settings.idempotency_ttl_hours)

    def purge(tx: Tx, _now: datetime) -> int:
        return store.purge_older_than(tx, cutoff)

    return write_path.work(purge).run(ctx)
