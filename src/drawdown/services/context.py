"""What every use case needs from the outside world, passed in explicitly.

Built once per process by the composition root (`drawdown/app.py`). The clock and id
generator are injectable so tests can control time instead of sleeping, and so the ledger
core never reads them itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drawdown.services.access.key_cache import KeyCache
from drawdown.services.ids import new_id
from drawdown.services.observe import Observer
from drawdown.services.webhooks.cache import EndpointCache
from drawdown.settings import Settings
from drawdown.store.database import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


# One step of the end of every customer write, given the write path's `CustomerWrite` (typed
# loosely here: the write path imports this module).
WriteEnding = Callable[[Any], None]


@dataclass(frozen=True)
class ServiceContext:
    db: Database
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)
    new_id: Callable[[], str] = field(default=new_id)
    # API keys as an in-process map, refreshed from the database (services/access).
    keys: KeyCache = field(default_factory=KeyCache)
    # Where use cases report what happened (entries written...); metrics listen here.
    observer: Observer = field(default_factory=Observer)
    # Live webhook endpoints as an in-process list (services/webhooks/cache.py).
    webhooks: EndpointCache = field(default_factory=EndpointCache)
    # The end of every customer write, in order, run by the write path itself after the use
    # case (`write_path.customer_work`): top-ups fire, then balance alerts see the final
    # balances. Registered once by the composition root.
    write_endings: tuple[WriteEnding, ...] = ()

    def now(self) -> datetime:
        return self.clock()
