"""What background work is waiting: the webhook outbox and usage not yet deducted.

Read when `/metrics` is scraped (services/telemetry.py keeps the answer a few seconds), so
the gauges cost nothing while nobody looks. Each figure is one query: the outbox's pending
deliveries (counted on the due index) and the oldest one's creation, the undeducted events
of live customers (a deleted customer's are never deducted, so they are left out) and the
oldest one's timestamp. Their cost grows with the backlog, not with the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drawdown.services.context import ServiceContext
from drawdown.store import usage as usage_store
from drawdown.store import webhooks as webhook_store


@dataclass(frozen=True)
class Backlog:
    outbox_pending: int
    outbox_oldest_at: datetime | None  # when the oldest pending delivery's event was written
    usage_pending: int
    usage_oldest_at: datetime | None  # the timestamp of the oldest undeducted event


def read_backlog(ctx: ServiceContext) -> Backlog:
    with ctx.db.read() as tx:
        outbox_pending, outbox_oldest_at = webhook_store.outbox_backlog(tx)
        usage_pending = usage_store.pending_count(tx)
        oldest = usage_store.oldest_pending(tx)
    return Backlog(outbox_pending, outbox_oldest_at, usage_pending,
                   None if oldest is None else oldest.timestamp)  # fmt: skip
