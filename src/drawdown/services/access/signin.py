"""Sign-in throttling for the console, shared by every server process through the database.

Failures count per (email, client address): five wrong passwords within 15 minutes block
that pair for the rest of the window, so a stranger elsewhere cannot lock the real admin
out by guessing at their email. A client address that fails fifty times in the window, on
any emails, is blocked too, which bounds what one client can make the server store.
Rows hold a hash of the key, not the email, so their size is fixed; expired rows are
deleted as new failures arrive.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.store import console as store
from drawdown.store.tx import Tx

FAILURES_MAX = 5
CLIENT_FAILURES_MAX = 50
WINDOW = timedelta(minutes=15)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _keys(email: str, client: str) -> tuple[str, str]:
    return _key("pair", email.strip().lower(), client), _key("client", client)


def blocked(ctx: ServiceContext, email: str, client: str) -> bool:
    pair, by_client = _keys(email, client)
    since = ctx.now() - WINDOW
    with ctx.db.read() as tx:
        return (
            store.recent_failures(tx, pair, since) >= FAILURES_MAX
            or store.recent_failures(tx, by_client, since) >= CLIENT_FAILURES_MAX
        )


def failed(ctx: ServiceContext, email: str, client: str) -> None:
    pair, by_client = _keys(email, client)
    ids = ctx.new_id(), ctx.new_id()

    def record(tx: Tx, now: datetime) -> None:
        store.record_failure(tx, ids[0], pair, now, now - WINDOW)
        store.record_failure(tx, ids[1], by_client, now, now - WINDOW)

    write_path.work(record).run(ctx)


def succeeded(ctx: ServiceContext, email: str, client: str) -> None:
    pair, _ = _keys(email, client)

    def forget(tx: Tx, _now: datetime) -> None:
        store.forget_failures(tx, pair)

    write_path.work(forget).run(ctx)
