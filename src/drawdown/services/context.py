"""What every use case needs from the outside world, passed in explicitly.

The clock and id generator are injectable so tests can control time instead of
sleeping, and so the ledger core never reads them itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from drawdown.services.ids import new_id
from drawdown.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceContext:
    engine: Engine
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)
    new_id: Callable[[], str] = field(default=new_id)

    def now(self) -> datetime:
        return self.clock()
