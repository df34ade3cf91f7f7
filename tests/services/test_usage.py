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

from drawdown.ledger.usage import ChargeKey
from drawdown.services import customers
from drawdown.services.credits import blocks, entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.usage import catalogue, deduct, ingest
from drawdown.services.write_path import CustomerRef
from drawdown.store import usage as usage_store
from drawdown.store.tx import Tx
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
        CustomerRef(id=customer_id),
        entry_request({"entry_type": "increment", "amount": Decimal(amount), **fields}),
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
    gpu_only = _increment(
        ctx,
        customer_id,
        10,
        expiry_date=soon,
        filters=[{"field": "item_id", "operator": "includes", "values": ["gpu"]}],
    )
    no_gpu = _increment(
        ctx,
        customer_id,
        100,
        filters=[{"field": "item_id", "operator": "excludes", "values": ["gpu"]}],
    )
    general = _increment(ctx, customer_id, 100, per_unit_cost_basis="0.5")
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


def _drawn(ctx: Any, customer_id: str) -> Decimal:
    return sum((e.entry.amount for e in _decrements(ctx, customer_id)), Decimal(0))


def test_grace_period_and_future_limit(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    _customer(ctx)
    hour = timedelta(hours=1)
    late = _event("late", clock.now - hour - timedelta(seconds=1))
    ahead = _event("ahead", clock.now + timedelta(minutes=6))
    failed = ingest.ingest(
        ctx, [_event("ok", clock.now - hour + timedelta(seconds=1)), late, ahead]
    )
    assert isinstance(failed, list)
    assert sorted(f.idempotency_key for f in failed) == ["ahead", "late"]
    assert "grace period" in failed[1].validation_errors[0] or "grace" in str(failed)
    ok = ingest.ingest(ctx, [_event("ok", clock.now - hour + timedelta(seconds=1)),
                             _event("soon", clock.now + timedelta(minutes=4))])  # fmt: skip
    assert isinstance(ok, ingest.Ingested) and sorted(ok.ingested) == ["ok", "soon"]


def test_no_grace_accepts_late_events_and_deducts_them_at_once(database_factory: Any) -> None:
    clock = Clock()
    ctx = make_context(database_factory("sqlite"), clock, usage_grace_seconds=0)
    try:
        customer_id = _customer(ctx)
        _catalogue(ctx)  # prices from T0
        clock.now = T0 + timedelta(days=4)
        old = ingest.ingest(ctx, [_event("old", clock.now - timedelta(days=3))])
        assert isinstance(old, ingest.Ingested) and old.ingested == ("old",)
        assert sum(d.events for d in deduct.deduct_due(ctx)) == 1
        assert _drawn(ctx, customer_id) == Decimal("0.5")
    finally:
        ctx.db.close()


def test_a_refused_batch_stores_nothing(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    twin = _event("k", clock.now)
    other = {**_event("k", clock.now), "properties": {"x": 1}}
    failed = ingest.ingest(ctx, [_event("fine", clock.now), twin, other,
                                 {**_event("nobody", clock.now), "external_customer_id": "zz"},
                                 "not an event"])  # fmt: skip
    assert isinstance(failed, list)
    assert [f.idempotency_key for f in failed] == ["k", "nobody", ""]
    with ctx.db.read() as tx:
        assert usage_store.count_events(tx, customer_id) == (0, 0)


def test_a_price_change_never_reprices_past_usage(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _catalogue(ctx)
    past = T0 - timedelta(seconds=1)
    with pytest.raises(Exception, match="past"):
        catalogue.add_price(ctx, item_id="api", event_name="api_call", metric="count",
                            credits_per_unit="9", effective_from=past).run(ctx)  # fmt: skip
    change = T0 + timedelta(minutes=30)
    catalogue.add_price(ctx, item_id="api", event_name="api_call", metric="count",
                        credits_per_unit="3", effective_from=change).run(ctx)  # fmt: skip
    clock.now = T0 + timedelta(minutes=31)
    events = [_event("before", change - timedelta(minutes=1)), _event("after", change)]
    assert isinstance(ingest.ingest(ctx, events), ingest.Ingested)
    clock.now = T0 + timedelta(hours=3)
    deduct.deduct_due(ctx)
    assert _drawn(ctx, customer_id) == Decimal("3.5")  # 0.5 at the old price, 3 at the new
    assert len(catalogue.list_prices(ctx)) == 3


def test_sub_precision_usage_is_carried_not_lost(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    catalogue.add_item("tiny", "Tiny").run(ctx)
    catalogue.add_price(ctx, item_id="tiny", event_name="tick", metric="sum:n",
                        credits_per_unit="0.000000000001").run(ctx)  # fmt: skip
    for step, key in enumerate(["t1", "t2", "t3"]):
        clock.now = T0 + timedelta(hours=2 * step)
        ingest.ingest(ctx, [_event(key, clock.now, "tick", n=Decimal("0.5"))])
        clock.now += timedelta(hours=1, seconds=1)
        deduct.deduct_due(ctx)
    # 3 x 0.5e-12 priced: 1e-12 drawn (after the second), 0.5e-12 carried
    assert _drawn(ctx, customer_id) == Decimal("0.000000000001")
    with ctx.db.read() as tx:
        assert usage_store.carry(tx, customer_id) == {("credits", "tiny"): Decimal("5E-13")}


def test_concurrent_deducters_deduct_once(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    ids = [_customer(ctx, f"c{i}") for i in range(3)]
    _catalogue(ctx)
    for i in range(3):
        batch = [{**_event(f"{i}-{n}", clock.now), "external_customer_id": f"c{i}"}
                 for n in range(50)]  # fmt: skip
        assert isinstance(ingest.ingest(ctx, batch), ingest.Ingested)
    clock.now += timedelta(hours=2)
    threads = [threading.Thread(target=deduct.deduct_due, args=(ctx,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [_drawn(ctx, c) for c in ids] == [Decimal(25)] * 3
    with ctx.db.read() as tx:
        assert [usage_store.count_events(tx, c) for c in ids] == [(50, 50)] * 3


def test_a_crash_during_deduction_leaves_no_trace(
    env: tuple[Any, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _catalogue(ctx)
    ingest.ingest(ctx, [_event(f"e{n}", clock.now) for n in range(4)])
    clock.now += timedelta(hours=2)

    def crash(*_args: Any) -> int:
        raise RuntimeError("power cut after the entries were written")

    monkeypatch.setattr(usage_store, "mark_deducted", crash)
    with pytest.raises(RuntimeError):
        deduct.deduct_due(ctx)
    assert _decrements(ctx, customer_id) == []
    with ctx.db.read() as tx:
        assert usage_store.count_events(tx, customer_id) == (4, 0)
        assert usage_store.carry(tx, customer_id) == {}
    monkeypatch.undo()
    assert sum(d.events for d in deduct.deduct_due(ctx)) == 4
    assert deduct.deduct_due(ctx) == []
    assert _drawn(ctx, customer_id) == Decimal(2)


def test_deleting_a_block_replays_usage_decrements_through_filters(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _catalogue(ctx)
    gpu_only = [{"field": "item_id", "operator": "includes", "values": ["gpu"]}]
    first = _increment(ctx, customer_id, 5, filters=gpu_only)
    second = _increment(ctx, customer_id, 5, filters=gpu_only)
    no_gpu = [{"field": "item_id", "operator": "excludes", "values": ["gpu"]}]
    other = _increment(ctx, customer_id, 100, filters=no_gpu)
    ingest.ingest(ctx, [_event("g", clock.now, "gpu", seconds=Decimal(4))])  # 8 credits
    clock.now += timedelta(hours=2)
    deduct.deduct_due(ctx)
    assert [(e.entry.block_id, e.entry.amount) for e in _decrements(ctx, customer_id)] == [
        (first, Decimal(5)), (second, Decimal(3))]  # fmt: skip
    blocks.delete_block(CustomerRef(id=customer_id), first).run(ctx)
    # replayed at its original instant: 5 from the other gpu block and the uncovered rest on
    # it too (the last block admitting gpu), never on the block that excludes gpu
    assert [(e.entry.block_id, e.entry.amount) for e in _decrements(ctx, customer_id)] == [
        (second, Decimal(8))]  # fmt: skip
    assert other not in {e.entry.block_id for e in _decrements(ctx, customer_id)}


def test_deductions_go_through_the_bulk_path(
    env: tuple[Any, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: a deduction job reads what it needs before it writes, and its writes (entries,
    blocks, draws, carry, the events' mark) wait in the batch's buffer: no job of a batch of
    deductions sends a write of its own or takes a savepoint, and none sends the rows the
    jobs before it buffered (its reads are of its own customer: `Prepared.one_customer`)."""
    ctx, clock = env
    _catalogue(ctx)
    ids = [_customer(ctx, f"bulk-{n}") for n in range(4)]
    for customer_id in ids:
        _increment(ctx, customer_id, 100)
    clock.now = T0 + timedelta(minutes=20)  # the prices are effective from T0
    at = (T0 + timedelta(minutes=10)).isoformat()
    events = [{"idempotency_key": f"{customer_id}-{n}", "event_name": "api_call",
               "timestamp": at, "customer_id": customer_id, "properties": {}}
              for customer_id in ids for n in range(3)]  # fmt: skip
    ingest.ingest(ctx, events)
    clock.now = T0 + timedelta(hours=2)
    direct: list[str] = []
    for name in ("_before_direct_write", "_savepoint"):
        original = getattr(Tx, name)

        def counted(self: Tx, *args: Any, _name: str = name, _original: Any = original) -> Any:
            direct.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(Tx, name, counted)
    send_buffer = Tx._send_buffer

    def sent(self: Tx) -> None:
        if self._buffer and self._frames:  # rows sent while a job runs
            direct.append("_send_buffer")
        send_buffer(self)

    monkeypatch.setattr(Tx, "_send_buffer", sent)

    done = deduct.deduct_due(ctx)

    assert sorted((d.customer_id, d.events) for d in done) == sorted((c, 3) for c in ids)
    assert [d.drawn for d in done] == [{ChargeKey("credits", "api"): Decimal("1.5")}] * 4
    assert direct == []
    monkeypatch.undo()
    assert deduct.deduct_due(ctx) == []  # marked: nothing is drawn twice
    with ctx.db.read() as tx:
        assert {c: usage_store.carry(tx, c) for c in ids} == {
            c: {("credits", "api"): Decimal(0)} for c in ids
        }
