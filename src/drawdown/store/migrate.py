"""Apply Alembic migrations to the configured database (`drawdown migrate` and `serve`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 7_226_584_001  # arbitrary, fixed: "drawdown migrations"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer drawdown: this version does not know its schema."""

    def __init__(self, revision: str) -> None:
        super().__init__(revision)
        self.revision = revision


@dataclass(frozen=True)
class Migration:
    """One revision: its id and the first line of its description."""

    revision: str
    title: str


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine) -> list[Migration]:
    """Bring the schema to the newest revision; the revisions this applied, oldest first
    (none when it was current, or another process applied them meanwhile)."""
    pending(engine)  # SchemaTooNew before Alembic's own, less clear, error
    config = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds tables to alter them; with foreign keys enforced, dropping a
            # referenced table would fail. The pragma only works outside a transaction.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if not sqlite:
                    # Several servers may start at once: migrate one at a time.
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = conn
                before = MigrationContext.configure(conn).get_current_revision()
                command.upgrade(config, "head")
                if sqlite:
                    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    assert not problems, f"migration broke foreign keys: {problems[:5]}"
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    return _between(before, head_revision())


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None, "drawdown ships its migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no drawdown schema yet)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _between(current: str | None, head: str) -> list[Migration]:
    """The revisions after `current` up to `head`, oldest first."""
    if current == head:
        return []
    revisions = _script().iterate_revisions(head, current)
    return [Migration(r.revision, (r.doc or "").splitlines()[0]) for r in reversed(list(revisions))]


def pending(engine: Engine) -> list[str]:
    """Revisions not yet applied (empty when the schema is current); SchemaTooNew when the
    database is at a revision this version does not have."""
    script = _script()
    head = script.get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return []
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaTooNew(current)
    return [rev.revision for rev in script.iterate_revisions(head, current)]
