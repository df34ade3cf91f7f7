"""Corrections of usage in-process, with an injected clock, on SQLite and PostgreSQL (issue
19): amending and deprecating events (Orb's rules, and exactly one compensation when their
usage was already deducted: refunds back into the blocks usage drew from, newest first, or a
refund block when those are gone), the carry kept exact, and backfills (rules, events that
wait for the close, replacing a timeframe, reverting newest first, a close interrupted and
finished later without applying anything twice, closing by itself at close_time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from drawdown.ledger.usage import Catalogue, price_events
from drawdown.services import customers
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.errors import (
    ConstraintViolation,
    InvalidField,
    InvalidRequest,
    ResourceNotFound,
    ServiceError,
)
from drawdown.services.usage import backfill_changes, backfills, catalogue, deduct, events, ingest
from drawdown.services.verify import verify
from drawdown.services.write_path import CustomerRef
from drawdown.store import corrections as correction_store
from drawdown.store import usage as usage_store
from support.contexts import make_context

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[tuple[Any, Clock]]:
    clock = Clock()
    ctx = make_context(database_factory(request.param), clock, usage_grace_seconds=3600)
    catalogue.add_item("api", "API calls").run(ctx)
    catalogue.add_price(ctx, item_id="api", event_name="call", metric="sum:n",
                        credits_per_unit="0.5").run(ctx)  # fmt: skip
    yield ctx, clock
    assert verify(ctx).clean
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


def _event(key: str, at: datetime, n: Any, customer: str = "acme") -> dict[str, Any]:
    return {"idempotency_key": key, "event_name": "call", "timestamp": at.isoformat(),
            "properties": {"n": n}, "external_customer_id": customer}  # fmt: skip


def _amended_body(at: datetime, n: Any, customer: str = "acme") -> dict[str, Any]:
    return {"event_name": "call", "timestamp": at.isoformat(), "properties": {"n": n},
            "external_customer_id": customer}  # fmt: skip


def _amended(at: datetime, n: Any, customer: str = "acme", **extra: Any) -> events.Amended:
    return events.parse_amendment({**_amended_body(at, n, customer), **extra})


def _entries(ctx: Any, customer_id: str) -> list[Any]:
    query = reads.EntryQuery(None, None, None, None, [], None, 1000)
    return [v.entry for v in reversed(reads.list_entries(ctx, CustomerRef(id=customer_id), query))]


def _net_usage(ctx: Any, customer_id: str) -> Decimal:
    """Σ usage decrements − Σ usage refunds (amendments and refund blocks)."""
    total = Decimal(0)
    for entry in _entries(ctx, customer_id):
        if entry.entry_type == "decrement" and "usage_item_id" in entry.metadata:
            total += entry.amount
        elif "usage_correction_id" in entry.metadata:
            total -= entry.amount
    return total


def _standing(ctx: Any, customer_id: str) -> Decimal:
    """Priced usage of the customer's live, deducted events less what is carried: what the
    net usage must equal."""
    with ctx.db.read() as tx:
        rows = [e for e in correction_store.events_of(tx, customer_id)
                if e.status == "live" and e.deduction_id is not None]  # fmt: skip
        charges = price_events([e.usage for e in rows], Catalogue(usage_store.prices(tx)))
        carried = sum(usage_store.carry(tx, customer_id).values(), Decimal(0))
    return sum((c.amount for c in charges.values()), Decimal(0)) - carried


def _deduct_now(ctx: Any, clock: Clock) -> None:
    """Deduct everything ingested so far, inside the grace period too."""
    deduct.deduct_due(ctx, before=clock.now + timedelta(seconds=1))


# --- amend ------------------------------------------------------------------------------------


def test_amending_an_undeducted_event_changes_what_will_be_deducted(
    env: tuple[Any, Clock],
) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    ingest.ingest(ctx, [_event("e1", clock.now, 10)])
    clock.now += timedelta(minutes=5)
    assert events.amend("e1", _amended(T0, 4)).run(ctx) == "e1"
    assert _entries(ctx, customer_id) == []  # nothing was in the ledger: nothing to correct
    clock.now = T0 + 2 * HOUR
    deduct.deduct_due(ctx)
    assert _net_usage(ctx, customer_id) == Decimal(2) == _standing(ctx, customer_id)
    with ctx.db.read() as tx:
        kept = correction_store.amendments(tx, customer_id, "e1")
    assert [(name, text) for name, text, _ in kept] == [("call", '{"n":10}')]


def test_amending_a_deducted_event_charges_or_refunds_the_difference(
    env: tuple[Any, Clock],
) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    soon = _increment(ctx, customer_id, 10, expiry_date=(T0 + 10 * HOUR).isoformat())
    later = _increment(ctx, customer_id, 100)
    ingest.ingest(ctx, [_event("e1", clock.now, 30)])
    _deduct_now(ctx, clock)  # 15 credits: 10 from the block expiring soon, 5 from the other
    events.amend("e1", _amended(T0, 10)).run(ctx)  # 5 credits: 10 come back, newest draw first
    back = [(e.block_id, e.amount) for e in _entries(ctx, customer_id)
            if e.entry_type == "amendment"]  # fmt: skip
    assert back == [(later, Decimal(5)), (soon, Decimal(5))]
    assert _net_usage(ctx, customer_id) == Decimal(5) == _standing(ctx, customer_id)
    events.amend("e1", _amended(T0, 40)).run(ctx)  # 20 credits: a further 15 drawn
    charged = _entries(ctx, customer_id)[-2:]
    assert [(e.entry_type, e.block_id, e.amount) for e in charged] == [
        ("decrement", soon, Decimal(5)), ("decrement", later, Decimal(10))]  # fmt: skip
    assert charged[0].metadata["usage_correction"] == "amend"
    assert _net_usage(ctx, customer_id) == Decimal(20) == _standing(ctx, customer_id)
    written = len(_entries(ctx, customer_id))
    events.amend("e1", _amended(T0, 40)).run(ctx)
    assert len(_entries(ctx, customer_id)) == written  # the same usage: nothing to correct
    deduct.deduct_due(ctx, before=clock.now + HOUR)
    assert _net_usage(ctx, customer_id) == Decimal(20)  # never deducted a second time


def test_an_amendment_keeps_customer_and_timestamp_inside_the_grace_period(
    env: tuple[Any, Clock],
) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _customer(ctx, "other")
    ingest.ingest(ctx, [_event("e1", clock.now, 10)])
    _deduct_now(ctx, clock)
    written = _entries(ctx, customer_id)
    with pytest.raises(InvalidField) as moved:
        events.amend("e1", _amended(T0 + timedelta(seconds=1), 1)).run(ctx)
    assert moved.value.field == "timestamp"
    with pytest.raises(InvalidField) as other:
        events.amend("e1", _amended(T0, 1, "other")).run(ctx)
    assert other.value.field == "external_customer_id"
    with pytest.raises(ResourceNotFound):
        events.amend("nope", _amended(T0, 1)).run(ctx)
    with pytest.raises(InvalidRequest) as bad:
        events.parse_amendment(
            {
                "event_name": "",
                "timestamp": "soon",
                "properties": {"a": {}},
                "customer_id": customer_id,
                "external_customer_id": "acme",
            }
        )
    assert {e["field"] for e in bad.value.errors} == {"customer_id", "event_name", "timestamp",
                                                      "properties"}  # fmt: skip
    with pytest.raises(InvalidRequest, match="at most 1000 digits"):  # not a million stored
        events.parse_amendment({**_amended_body(T0, Decimal("1e999999")), "customer_id": None})
    clock.now = T0 + HOUR + timedelta(seconds=1)  # the event is older than the grace period
    with pytest.raises(InvalidField, match="grace period") as late:
        events.amend("e1", _amended(T0, 1)).run(ctx)
    assert late.value.field == "timestamp"
    with pytest.raises(InvalidField, match="grace period") as late_deprecation:
        events.deprecate(customer_id, "e1").run(ctx)
    assert late_deprecation.value.field == "event_id"
    assert _entries(ctx, customer_id) == written
    with ctx.db.read() as tx:
        assert [(v.properties, v.status) for v in correction_store.versions(
            tx, customer_id, "e1")] == [({"n": 10}, "live")]  # fmt: skip


def test_deprecating_refunds_once_and_again_changes_nothing(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _increment(ctx, customer_id, 100)
    ingest.ingest(ctx, [_event("e1", clock.now, 6), _event("e2", clock.now, 2)])
    _deduct_now(ctx, clock)
    assert events.owner_of(ctx, "e1", None) == customer_id
    assert events.deprecate(customer_id, "e1").run(ctx) == "e1"
    assert _net_usage(ctx, customer_id) == Decimal(1) == _standing(ctx, customer_id)
    written = len(_entries(ctx, customer_id))
    assert events.deprecate(customer_id, "e1").run(ctx) == "e1"
    assert len(_entries(ctx, customer_id)) == written
    with pytest.raises(ConstraintViolation, match="deprecated"):
        events.amend("e1", _amended(T0, 1)).run(ctx)
    clock.now += timedelta(minutes=1)  # a search ends now, exclusive
    found = events.search(ctx, ["e1", "e2", "zz"], None, None)
    assert [(f.event.idempotency_key, f.deprecated) for f in found] == [("e2", False),
                                                                        ("e1", True)]  # fmt: skip
    assert found[0].external_customer_id == "acme"


def test_an_event_id_of_several_customers_needs_its_customer(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    first, second = _customer(ctx), _customer(ctx, "b")
    for owner in ("acme", "b"):  # one batch refuses a key twice with different bodies
        assert isinstance(ingest.ingest(ctx, [_event("same", clock.now, 1, owner)]),
                          ingest.Ingested)  # fmt: skip
    with pytest.raises(InvalidField, match="several customers") as ambiguous:
        events.owner_of(ctx, "same", None)
    assert ambiguous.value.field == "event_id"
    assert events.owner_of(ctx, "same", CustomerRef(external_id="b")) == second
    with pytest.raises(ResourceNotFound):
        events.owner_of(ctx, "unknown", None)
    events.deprecate(second, "same").run(ctx)
    assert events.owner_of(ctx, "same", CustomerRef(id=first)) == first


def test_a_refund_whose_block_expired_is_granted_in_a_block_of_its_own(
    database_factory: Any,
) -> None:
    clock = Clock()
    ctx = make_context(database_factory("sqlite"), clock, usage_grace_seconds=0)
    try:
        catalogue.add_item("api", "API calls").run(ctx)
        catalogue.add_price(ctx, item_id="api", event_name="call", metric="sum:n",
                            credits_per_unit="0.5").run(ctx)  # fmt: skip
        customer_id = _customer(ctx)
        short = _increment(ctx, customer_id, 10, expiry_date=(T0 + HOUR).isoformat())
        ingest.ingest(ctx, [_event("e1", clock.now, 8)])
        clock.now += timedelta(seconds=1)
        deduct.deduct_due(ctx)  # 4 credits from the short block
        clock.now = T0 + 2 * HOUR  # it expired (6 credits expired unused)
        events.deprecate(customer_id, "e1").run(ctx)
        refund = _entries(ctx, customer_id)[-1]
        assert (refund.entry_type, refund.amount) == ("increment", Decimal(4))
        assert refund.block_id != short and refund.description == "Usage refund: API calls"
        assert refund.metadata["usage_correction"] == "deprecate"
        assert _net_usage(ctx, customer_id) == 0 == _standing(ctx, customer_id)
        assert verify(ctx).clean
    finally:
        ctx.db.close()


def test_corrections_keep_sub_precision_usage_exact(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    catalogue.add_item("tiny", "Tiny").run(ctx)
    catalogue.add_price(ctx, item_id="tiny", event_name="tick", metric="sum:n",
                        credits_per_unit="0.000000000003").run(ctx)  # fmt: skip
    tick = [{**_event(f"t{i}", clock.now, Decimal("0.25")), "event_name": "tick"}
            for i in range(3)]  # fmt: skip
    ingest.ingest(ctx, tick)
    _deduct_now(ctx, clock)  # 2.25e-12 priced: 2e-12 drawn, 0.25e-12 carried
    tiny = [("t0", "0.7"), ("t1", "0"), ("t2", "1.3333")]
    for key, n in tiny:
        body = {"event_name": "tick", "timestamp": T0.isoformat(), "properties": {"n":
                Decimal(n)}, "external_customer_id": "acme"}  # fmt: skip
        events.amend(key, events.parse_amendment(body)).run(ctx)
        assert _net_usage(ctx, customer_id) == _standing(ctx, customer_id), key
    events.deprecate(customer_id, "t2").run(ctx)
    assert _net_usage(ctx, customer_id) == _standing(ctx, customer_id)
    with ctx.db.read() as tx:
        carried = usage_store.carry(tx, customer_id)[("credits", "tiny")]
    assert _net_usage(ctx, customer_id) + carried == Decimal("0.7") * Decimal("3E-12")


# --- backfills ------------------------------------------------------------------------------


def _backfill(ctx: Any, start: datetime, end: datetime, **fields: Any) -> Any:
    body = {"timeframe_start": start.isoformat(), "timeframe_end": end.isoformat(), **fields}
    return backfills.create(backfills.parse(body), ctx.new_id()).run(ctx)


def test_backfill_rules(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    clock.now = T0 + 40 * 24 * HOUR
    with pytest.raises(InvalidRequest) as long:
        backfills.parse({"timeframe_start": T0.isoformat(),
                         "timeframe_end": (T0 + 32 * 24 * HOUR).isoformat()})  # fmt: skip
    assert long.value.errors[0]["field"] == "timeframe_end"
    with pytest.raises(InvalidRequest) as missing:
        backfills.parse({"timeframe_start": "yesterday", "replace_existing_events": "yes"})
    assert {e["field"] for e in missing.value.errors} == {
        "timeframe_start", "timeframe_end", "replace_existing_events"}  # fmt: skip
    with pytest.raises(ServiceError) as filtered:
        backfills.parse({"timeframe_start": T0.isoformat(), "timeframe_end":
                         (T0 + HOUR).isoformat(), "deprecation_filter": "n > 1"})  # fmt: skip
    assert filtered.value.kind == "feature_not_available"
    with pytest.raises(InvalidField) as young:
        _backfill(ctx, clock.now - 2 * HOUR, clock.now - HOUR + timedelta(seconds=1))
    assert young.value.field == "timeframe_end"
    with pytest.raises(InvalidField) as closed:
        _backfill(ctx, T0, T0 + HOUR, close_time=(clock.now - HOUR).isoformat())
    assert closed.value.field == "close_time"
    with pytest.raises(ResourceNotFound):
        _backfill(ctx, T0, T0 + HOUR, customer_id="nobody")
    first = _backfill(ctx, T0, T0 + HOUR, customer_id=customer_id)
    assert (first.status, first.replace_existing_events, first.close_time) == (
        "pending", True, clock.now + 24 * HOUR)  # fmt: skip
    with pytest.raises(ConstraintViolation, match=first.id):
        _backfill(ctx, T0 + HOUR / 2, T0 + 2 * HOUR)  # account-wide overlaps it
    _backfill(ctx, T0 + HOUR, T0 + 2 * HOUR, customer_id=customer_id)  # adjacent is fine
    assert len(backfills.list_backfills(ctx, None, None, None, 10)) == 2


def test_a_backfill_replaces_its_timeframe_and_reverts(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    _increment(ctx, customer_id, 1000)
    clock.now = T0 + timedelta(minutes=50)
    ingest.ingest(ctx, [_event("a", T0, 10), _event("b", T0 + timedelta(minutes=1), 20),
                        _event("outside", clock.now, 4)])  # fmt: skip
    clock.now = T0 + 3 * HOUR
    deduct.deduct_due(ctx)
    assert _net_usage(ctx, customer_id) == Decimal(17)
    backfill = _backfill(ctx, T0, T0 + timedelta(minutes=30), customer_id=customer_id)
    refused = ingest.ingest(ctx, [_event("x", T0 + HOUR, 1)], backfill.id)
    assert isinstance(refused, list) and "timeframe" in refused[0].validation_errors[0]
    batch = [_event("a", T0, 1), _event("c", T0 + timedelta(minutes=2), 3)]
    assert ingest.ingest(ctx, batch, backfill.id) == ingest.Ingested(("a", "c"), ())
    assert ingest.ingest(ctx, batch, backfill.id) == ingest.Ingested((), ("a", "c"))
    assert deduct.deduct_due(ctx) == []  # the backfill's events are not usage yet
    assert [f.event.idempotency_key for f in events.search(ctx, ["a", "c"], T0, None)] == ["a"]
    closed = backfill_changes.close(ctx, backfill.id)
    assert (closed.status, closed.events_ingested, closed.close_time) == (
        "reflected", 2, clock.now)  # fmt: skip
    # a (10) and b (20) leave, a (1) and c (3) enter: 13 credits back, once
    assert _net_usage(ctx, customer_id) == Decimal(4) == _standing(ctx, customer_id)
    assert backfill_changes.close(ctx, backfill.id).status == "reflected"
    assert _net_usage(ctx, customer_id) == Decimal(4)
    with pytest.raises(ConstraintViolation):
        ingest.ingest(ctx, batch, backfill.id)
    found = events.search(ctx, ["a", "b", "c"], T0, None)
    assert sorted((f.event.idempotency_key, f.event.origin != "", f.deprecated)
                  for f in found) == [("a", False, True), ("a", True, False),
                                      ("b", False, True), ("c", True, False)]  # fmt: skip
    reverted = backfill_changes.revert(ctx, backfill.id)
    assert (reverted.status, reverted.reverted_at) == ("reverted", clock.now)
    assert _net_usage(ctx, customer_id) == Decimal(17) == _standing(ctx, customer_id)
    assert backfill_changes.revert(ctx, backfill.id).status == "reverted"
    assert _net_usage(ctx, customer_id) == Decimal(17)
    with pytest.raises(ConstraintViolation):
        backfill_changes.close(ctx, backfill.id)


def test_a_backfill_that_adds_skips_keys_live_events_keep(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    ingest.ingest(ctx, [_event("a", T0, 10)])
    clock.now = T0 + 3 * HOUR
    deduct.deduct_due(ctx)
    backfill = _backfill(ctx, T0, T0 + HOUR, replace_existing_events=False)
    ingest.ingest(ctx, [_event("a", T0, 99), _event("new", T0, 2)], backfill.id)
    backfill_changes.close(ctx, backfill.id)
    assert _net_usage(ctx, customer_id) == Decimal(6) == _standing(ctx, customer_id)
    with ctx.db.read() as tx:
        statuses = sorted((v.idempotency_key, v.origin != "", v.status)
                          for key in ("a", "new")
                          for v in correction_store.versions(tx, customer_id, key))  # fmt: skip
    assert statuses == [("a", False, "live"), ("a", True, "skipped"), ("new", True, "live")]


def test_an_account_wide_backfill_closes_every_customer(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    ids = [_customer(ctx, f"c{i}") for i in range(3)]
    ingest.ingest(ctx, [_event(f"e{i}", T0, 2 * (i + 1), f"c{i}") for i in range(3)])
    clock.now = T0 + 3 * HOUR
    deduct.deduct_due(ctx)
    backfill = _backfill(ctx, T0 - HOUR, T0 + HOUR)
    ingest.ingest(ctx, [_event("n0", T0, 10, "c0")], backfill.id)
    backfill_changes.close(ctx, backfill.id)
    assert [_net_usage(ctx, c) for c in ids] == [Decimal(5), Decimal(0), Decimal(0)]
    backfill_changes.revert(ctx, backfill.id)
    assert [_net_usage(ctx, c) for c in ids] == [Decimal(1), Decimal(2), Decimal(3)]


def test_backfills_are_reverted_newest_first(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    ingest.ingest(ctx, [_event("a", T0, 10)])
    clock.now = T0 + 3 * HOUR
    deduct.deduct_due(ctx)
    older = _backfill(ctx, T0, T0 + HOUR, customer_id=customer_id)
    ingest.ingest(ctx, [_event("b", T0, 4)], older.id)
    backfill_changes.close(ctx, older.id)
    clock.now += timedelta(minutes=1)
    newer = _backfill(ctx, T0, T0 + HOUR)
    ingest.ingest(ctx, [_event("c", T0, 2)], newer.id)
    backfill_changes.close(ctx, newer.id)
    assert _net_usage(ctx, customer_id) == Decimal(1)
    with pytest.raises(ConstraintViolation, match=newer.id):
        backfill_changes.revert(ctx, older.id)
    backfill_changes.revert(ctx, newer.id)
    assert _net_usage(ctx, customer_id) == Decimal(2)
    backfill_changes.revert(ctx, older.id)
    assert _net_usage(ctx, customer_id) == Decimal(5) == _standing(ctx, customer_id)


def test_a_close_that_fails_half_way_is_finished_later_once(
    env: tuple[Any, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, clock = env
    ids = [_customer(ctx, f"c{i}") for i in range(2)]
    ingest.ingest(ctx, [_event(f"e{i}", T0, 4, f"c{i}") for i in range(2)])
    clock.now = T0 + 3 * HOUR
    deduct.deduct_due(ctx)
    backfill = _backfill(ctx, T0, T0 + HOUR)
    ingest.ingest(ctx, [_event(f"n{i}", T0, 2, f"c{i}") for i in range(2)], backfill.id)
    enter = correction_store.enter

    def crash_for_c1(tx: Any, customer_id: str, *args: Any) -> None:
        if customer_id == ids[1]:
            raise RuntimeError("power cut after the entries were written")
        enter(tx, customer_id, *args)

    monkeypatch.setattr(correction_store, "enter", crash_for_c1)
    with pytest.raises(RuntimeError):
        backfill_changes.close(ctx, backfill.id)
    assert backfills.get_backfill(ctx, backfill.id).closing
    assert [_net_usage(ctx, c) for c in ids] == [Decimal(1), Decimal(2)]  # c1 rolled back
    with pytest.raises(ConstraintViolation):  # no event enters a closing backfill
        ingest.ingest(ctx, [_event("late", T0, 1, "c0")], backfill.id)
    monkeypatch.undo()
    assert backfill_changes.finish_due(ctx) == 1
    assert backfills.get_backfill(ctx, backfill.id).status == "reflected"
    assert [_net_usage(ctx, c) for c in ids] == [Decimal(1), Decimal(1)]
    assert [_standing(ctx, c) for c in ids] == [Decimal(1), Decimal(1)]


def test_a_backfill_closes_by_itself_at_its_close_time(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    clock.now = T0 + 3 * HOUR
    backfill = _backfill(ctx, T0, T0 + HOUR, close_time=(clock.now + HOUR).isoformat())
    ingest.ingest(ctx, [_event("a", T0, 8)], backfill.id)
    assert backfill_changes.finish_due(ctx) == 0
    clock.now += HOUR
    with pytest.raises(ConstraintViolation):
        ingest.ingest(ctx, [_event("b", T0, 8)], backfill.id)
    assert backfill_changes.finish_due(ctx) == 1
    assert backfills.get_backfill(ctx, backfill.id).status == "reflected"
    assert _net_usage(ctx, customer_id) == Decimal(4)
    with pytest.raises(ResourceNotFound):
        ingest.ingest(ctx, [_event("c", T0, 1)], "no-such-backfill")


def test_a_pending_backfill_reverts_at_once_without_usage(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    customer_id = _customer(ctx)
    clock.now = T0 + 3 * HOUR
    backfill = _backfill(ctx, T0, T0 + HOUR)
    ingest.ingest(ctx, [_event("a", T0, 8)], backfill.id)
    assert backfill_changes.revert(ctx, backfill.id).status == "reverted"
    assert _entries(ctx, customer_id) == []
    assert events.search(ctx, ["a"], T0, None)[0].deprecated


def test_search_and_hourly_volume(env: tuple[Any, Clock]) -> None:
    ctx, clock = env
    _customer(ctx)
    ingest.ingest(ctx, [_event("h0a", T0 - timedelta(minutes=50), 1),
                        _event("h0b", T0 - timedelta(minutes=10), 1),
                        _event("h1", T0 + timedelta(minutes=2), 1)])  # fmt: skip
    clock.now = T0 + timedelta(minutes=5)
    hours = events.volume(ctx, T0 - timedelta(minutes=30), None, None, 10)
    assert [(v.hour, v.end, v.count) for v in hours] == [
        (T0 - HOUR, T0, 2), (T0, T0 + HOUR, 1)]  # fmt: skip
    assert [v.count for v in events.volume(ctx, T0 - HOUR, None, T0 - HOUR, 10)] == [1]
    with pytest.raises(InvalidField):
        events.volume(ctx, T0, T0 - HOUR, None, 10)
    with pytest.raises(InvalidField):
        events.volume(ctx, T0 - 40 * 24 * HOUR, None, None, 10)
    found = events.search(ctx, ["h1", "h0a"], None, None)
    assert [f.event.idempotency_key for f in found] == ["h1", "h0a"]
    assert events.search(ctx, ["h1"], T0 - HOUR, T0) == []
    with pytest.raises(InvalidRequest):
        events.parse_search({"event_ids": [], "timeframe_start": "nope"})
