"""In-process service contexts for tests that call use cases or the ASGI app directly."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from drawdown.app import build_context
from drawdown.services.access import api_keys
from drawdown.services.context import ServiceContext
from drawdown.settings import Settings


def make_context(
    database_url: str, clock: Callable[[], datetime] | None = None, **settings: Any
) -> ServiceContext:
    """A migrated database and a context on it; API keys load without a refresh thread."""
    ctx = build_context(Settings(database_url=database_url, **settings))
    if clock is not None:
        ctx = dataclasses.replace(ctx, clock=clock)
    api_keys.start_cache(ctx, refresh=False)
    return ctx
