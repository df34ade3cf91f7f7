"""`drawdown status`: one look at a database and the work around it.

The version, the database (path, or PostgreSQL's user@host:port/database, never a
password), its migrations, the serving processes that announce themselves in it
(`services/processes.py`), and the background work waiting: webhook deliveries in the
outbox, usage events not yet deducted, expiries due but not yet written; and the last
`drawdown verify`. Everything is read in one snapshot, nothing is written. When the schema
is not current the rest is not read (its tables may not be there yet).
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from drawdown.records import Backlog, CommandRun, Expiries, ServingProcess
from drawdown.services import processes
from drawdown.services.context import ServiceContext
from drawdown.services.verify import VERIFY_COMMAND
from drawdown.store import status as store
from drawdown.store.engine import UnsupportedDatabase, sqlite_file
from drawdown.store.migrate import SchemaTooNew


def version() -> str:
    try:
        return importlib.metadata.version("drawdown")
    except importlib.metadata.PackageNotFoundError:  # a source tree never installed
        return "unknown"


@dataclass(frozen=True)
class Work:
    """The background work waiting, read in one snapshot."""

    serving: list[ServingProcess]
    outbox: Backlog  # pending deliveries; due: first attempt or retry due now
    usage: Backlog  # undeducted events; due: past the grace period
    expiries: Expiries
    last_verify: CommandRun | None


@dataclass(frozen=True)
class Status:
    version: str
    kind: str  # SQLite or PostgreSQL
    location: str
    revision: str | None
    pending: list[str]  # migrations not applied, oldest first
    newer_schema: bool  # the database was migrated by a newer drawdown
    checked_at: datetime
    work: Work | None  # None unless the schema is current


def missing_sqlite_file(database_url: str) -> str | None:
    """The path of a SQLite database file that does not exist (opening it would create an
    empty one), else None."""
    try:
        path = sqlite_file(database_url)
    except UnsupportedDatabase:  # opening it says so, in one line
        return None
    return None if path is None or os.path.exists(path) else path


def status(ctx: ServiceContext) -> Status:
    now = ctx.now()
    db = ctx.db
    try:
        pending, newer = list(reversed(db.pending_migrations())), False
    except SchemaTooNew:
        pending, newer = [], True
    current = not pending and not newer
    return Status(
        version(), db.kind, db.location, db.schema_revision(), pending, newer, now,
        _work(ctx, now) if current else None,
    )  # fmt: skip


def _work(ctx: ServiceContext, now: datetime) -> Work:
    grace_cutoff = now - timedelta(seconds=ctx.settings.usage_grace_seconds)
    seen_since = now - timedelta(seconds=processes.LIVE_SECONDS)
    with ctx.db.read() as tx:
        return Work(
            serving=store.live_processes(tx, seen_since),
            outbox=store.outbox(tx, now),
            usage=store.usage(tx, grace_cutoff),
            expiries=store.expiries(tx, now),
            last_verify=store.last_run(tx, VERIFY_COMMAND),
        )
