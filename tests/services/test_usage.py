"""Usage in-process, with an injected clock: ingestion rules (grace, future, duplicates,
batch refusal), pricing versions, deductions drawn through block filters, exactly once under
duplicates, concurrent deducters and a crash in the middle of a deduction (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from drawdown.services import customers
from drawdown.services.ledger import entries, reads
from drawdown.services.usage import catalogue, deduct, ingest
from drawdown.services.write_path import CustomerRef
from drawdown.store import usage as usage_store
from support.contexts import make_context

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[tuple[Any, Clock]]:
    clock = Clock()
    ctx = make_context(database_factory(request.param), clock, usage_grace_seconds=3600)
    yield ctx, clock
    ctx.db.close()


def _customer(ctx: Any, external_id: str = "acme") -> str:
    made = customers.create_customer(
        {"name": "A", "email": "a@example.com", "external_customer_id": external_id}
    ).run(ctx)
    return str(made.id)


def _increment(ctx: Any, customer_id: str, amount: int, **fields: Any) -> str:
    view = entries.create_entry(
        CustomerRef(id=customer_id), {"entry_type": "increment", "amount": Decimal(amount), **fields}
    ).run(ctx)
    return str(view.block.id)


def _event(key: str, at: datetime, name: str = "api_call", **props: Any) -> dict[str, Any]:
    return {"idempotency_key": key, "event_name": name, "timestamp": at.isoformat(),
            "properties": props, "external_customer_id": "acme"}  # fmt: skip


def _catalogue(ctx: Any) -> None:
    catalogue.add_item("api", "API calls").run(ctx)
    catalogue.add_item("gpu", "GPU time").run(ctx)
    catalogue.add_price(ctx, item_id="api", event_name="api_call", metric="count",
                        credits_per_unit="0.5").run(ctx)  # fmt: skip
    catalogue.add_price(ctx, item_id="gpu", event_name="gpu", metric="sum:seconds",
                        credits_per_unit="2").run(ctx)  # fmt: skip


def _decrements(ctx: Any, customer_id: str) -> list[Any]:
    query = reads.EntryQuery("credits", "decrement", None, None, [], None, 1000)
    return list(reversed(reads.list_entries(ctx, CustomerRef(id=customer_id), query)))


def test_due_usage_is_drawn_through_filters_once(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _catalogue(ctx)
    soon = (T0 + timedelta(days=3)).isoformat()
    gpu_only = _increment(ctx, customer_id, 10, expiry_date=soon,
                          filters=[{"field": "item_id", "operator": "includes", "values": ["gpu"]}])
    no_gpu = _increment(ctx, customer_id, 100,
                        filters=[{"field": "item_id", "operator": "excludes", "values": ["gpu"]}])
    general = _increment(ctx, customer_id, 100, per_unit_cost_basis=Decimal("0.5"))
    clock.now = T0 + timedelta(minutes=1)
    batch = [_event("a1", clock.now), _event("a2", clock.now),
             _event("g1", clock.now, "gpu", seconds=Decimal("7.5"))]  # fmt: skip
    result = ingest.ingest(ctx, batch)
    assert isinstance(result, ingest.Ingested)
    assert sorted(result.ingested) == ["a1", "a2", "g1"]
    again = ingest.ingest(ctx, batch)
    assert isinstance(again, ingest.Ingested) and sorted(again.duplicate) == ["a1", "a2", "g1"]
    assert deduct.deduct_due(ctx) == []  # still inside the grace period
    pending = deduct.pending_usage(ctx, customer_id)
    assert pending.events == 3
    clock.now = T0 + timedelta(hours=2)
    done = deduct.deduct_due(ctx)
    assert sum(d.events for d in done) == 3
    drawn = [(e.entry.block_id, e.entry.amount, e.entry.metadata["usage_item_id"])
             for e in _decrements(ctx, customer_id)]  # fmt: skip
    # api: 1 credit from the block that excludes gpu (cost basis null before 0.5)
    # gpu: 15 credits: 10 from the gpu-only block (soonest expiry), 5 from the general one
    assert drawn == [(no_gpu, Decimal(1), "api"), (gpu_only, Decimal(10), "gpu"),
                     (general, Decimal(5), "gpu")]  # fmt: skip
    assert deduct.deduct_due(ctx) == []
    assert deduct.pending_usage(ctx, customer_id).events == 0
