"""In-process service contexts for tests that call use cases or the ASGI app directly."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from drawdown.app import build_context
from drawdown.services.access import api_keys
from drawdown.services.context import ServiceContext
from drawdown.settings import Settings

_migrated_sqlite: list[bytes] = []  # one freshly migrated SQLite file, made once per process


def make_context(
    database_url: str, clock: Callable[[], datetime] | None = None, **settings: Any
) -> ServiceContext:
    """A migrated database and a context on it; API keys load without a refresh thread."""
    _start_from_migrated_copy(database_url)
    ctx = build_context(Settings(database_url=database_url, **settings))
    if clock is not None:
        ctx = dataclasses.replace(ctx, clock=clock)
    api_keys.start_cache(ctx, refresh=False)
    return ctx


def _start_from_migrated_copy(database_url: str) -> None:
    """A new SQLite file starts as a copy of one migrated once in this process: migrating
    costs a third of a second, and hundreds of tests start from a fresh database."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or "?" in database_url:
        return
    path = Path(database_url.removeprefix(prefix))
    if path.exists() or not path.parent.is_dir():
        return
    if not _migrated_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp) / "migrated.db"
            build_context(Settings(database_url=prefix + str(template))).db.close()
            _migrated_sqlite.append(template.read_bytes())
    path.write_bytes(_migrated_sqlite[0])
