"""What an operator runs beside the API: readiness, backups, a customer's ledger export.

`readiness` backs `/ready`; `backup` copies a SQLite database with SQLite's online backup
API (a consistent snapshot, safe while servers write: WAL readers do not block writers);
PostgreSQL is backed up with its own tools (`pg_dump`), which `backup` says in one line.
`export_entries` streams a customer's ledger, newest first as the API lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drawdown.ledger.amounts import format_decimal
from drawdown.services.context import ServiceContext
from drawdown.services.credits import reads
from drawdown.services.errors import InvalidField
from drawdown.services.write_path import CustomerRef

log = logging.getLogger("drawdown.operations")

EXPORT_PAGE = 1000
EXPORT_COLUMNS = (
    "id", "created_at", "currency", "entry_type", "entry_status", "amount",
    "starting_balance", "ending_balance", "credit_block_id", "sequence_number", "description",
    "void_amount", "void_reason", "new_block_expiry_date", "hash",
)  # fmt: skip


@dataclass(frozen=True)
class Readiness:
    database: str  # "ok" or "unreachable"
    migrations: str  # "current", "pending" or "unknown"
    writes: str = "unknown"  # "ok", "refused" (disk full, read-only...) or "unknown"
    clock: str = "unknown"  # "ok", or "skewed" (differs from the database's: writes refused)

    @property
    def ok(self) -> bool:
        return (self.database == "ok" and self.migrations == "current" and self.writes == "ok"
                and self.clock == "ok")  # fmt: skip

    def body(self) -> dict[str, str]:
        return {"status": "ready" if self.ok else "not ready", "database": self.database,
                "migrations": self.migrations, "writes": self.writes,
                "clock": self.clock}  # fmt: skip


def readiness(ctx: ServiceContext) -> Readiness:
    """Whether this process can serve: the database answers, its schema is current, and it
    takes writes (store/write_health.py: the latest writes, or a probe write). Blocking:
    call it from a thread. The reason for a failure goes to the log (the store logs when
    writes start and stop being refused), not to the unauthenticated answer."""
    try:
        ctx.db.ping()
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", _one_line(exc))
        return Readiness("unreachable", "unknown")
    try:
        pending = ctx.db.pending_migrations()
    except Exception as exc:
        log.warning("readiness: cannot read the schema revision: %s", _one_line(exc))
        return Readiness("ok", "unknown")
    migrations = "pending" if pending else "current"
    # The clock first: a skewed process refuses every write, the probe write included.
    if ctx.db.clock_skew() is not None:
        return Readiness("ok", migrations, "unknown", "skewed")
    return Readiness("ok", migrations, "refused" if ctx.db.write_refusal() else "ok", "ok")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


class BackupNotSupported(InvalidField):
    """The database is not a SQLite file (PostgreSQL: use pg_dump)."""


def backup(ctx: ServiceContext, path: str) -> int:
    """Copy the SQLite database to `path` (a new file) while it may be in use; its size."""
    if ctx.db.dialect != "sqlite":
        raise BackupNotSupported(
            "database",
            "drawdown backup copies SQLite databases; for PostgreSQL run "
            f"pg_dump --format=custom --file={path} DATABASE_URL "
            "(restore with pg_restore --dbname=DATABASE_URL --no-owner)",
        )
    target = Path(path)
    if target.exists():
        raise InvalidField("path", f"{path} exists; backups never overwrite a file")
    if not target.parent.is_dir():
        raise InvalidField("path", f"directory {target.parent} does not exist")
    ctx.db.backup_sqlite(str(target))
    return target.stat().st_size


def export_entries(ctx: ServiceContext, ref: CustomerRef) -> Iterator[dict[str, Any]]:
    """Every ledger entry of the customer (all currencies), newest first, as flat rows."""
    after: tuple[datetime, int, str] | None = None
    while True:
        query = reads.EntryQuery(currency=None, entry_type=None, entry_status=None,
                                 minimum_amount=None, created_at=(), after=after,
                                 limit=EXPORT_PAGE)  # fmt: skip
        page = reads.read_caught_up(ctx, ref, reads.entries_of(query))
        for view in page:
            yield _row(view)
        if len(page) < EXPORT_PAGE:
            return
        last = page[-1].entry
        after = (last.created_at, last.seq, last.id)


def _row(view: Any) -> dict[str, Any]:
    e = view.entry
    return {
        "id": e.id,
        "created_at": e.created_at.isoformat(),
        "currency": e.currency,
        "entry_type": e.entry_type,
        "entry_status": view.status,
        "amount": format_decimal(e.amount),
        "starting_balance": format_decimal(e.starting_balance),
        "ending_balance": format_decimal(e.ending_balance),
        "credit_block_id": e.block_id,
        "sequence_number": e.seq,
        "description": e.description,
        "void_amount": None if e.void_amount is None else format_decimal(e.void_amount),
        "void_reason": e.void_reason,
        "new_block_expiry_date": (
            None if e.new_block_expiry_date is None else e.new_block_expiry_date.isoformat()
        ),
        "hash": e.hash,
    }
