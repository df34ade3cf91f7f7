"""Differential test: usage corrections against a small independent reference model (issue 19).

Hypothesis draws random sequences of ingest / amend / deprecate / deduct / backfill create,
ingest, close and revert / wait, run through the real services on a real database (SQLite,
and PostgreSQL) with an injected clock and no grace period. The model below knows only the
rules (which event versions stand, which are deducted, which backfill replaced which) and
prices with its own arithmetic, sharing no code with `drawdown`. After every step, for each
customer:

* Σ usage decrements − Σ usage refunds + carry == the exact priced usage of the deducted
  events that stand (to the last decimal: prices make sub-precision amounts, so the carry is
  exercised), and
* every stored event version has the status and deduction state the model says.

Blocks expire during a sequence, so refunds land in expired blocks' place too (a refund
block). `drawdown verify` is clean at the end. A refused operation must be one the model
refuses (overlapping open backfills, reverting an older backfill before a newer one).

CI: 60 sequences on SQLite, 15 on PostgreSQL. `DRAWDOWN_LONG=1`: 1,000 and 200.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawdown.services import customers
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.errors import ConstraintViolation
from drawdown.services.usage import backfill_changes, backfills, catalogue, deduct, events, ingest
from drawdown.services.verify import verify
from drawdown.services.write_path import CustomerRef
from drawdown.store import corrections as correction_store
from drawdown.store import usage as usage_store
from reliability.rel_support import scale
from support.contexts import make_context

pytestmark = pytest.mark.slow

T0 = datetime(2026, 6, 1, tzinfo=UTC)
CALL_RATE = Decimal("0.3")  # credits per unit of `n` (sum)
TICK_RATE = Decimal("0.000000000007")  # credits per event (count)
# Quantities of `n`; × 0.3, the last two are finer than the ledger's 12 decimals (carried).
AMOUNTS = [Decimal(v) for v in ("0", "1", "2.5", "7.77", "0.000000000001", "0.123456789012")]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Context:
    ctx: Any
    clock: Clock
    counter: Iterator[int] = field(default_factory=itertools.count)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Context]:
    clock = Clock()
    ctx = make_context(
        database_factory(request.param), clock, usage_grace_seconds=0, sqlite_synchronous="OFF"
    )
    catalogue.add_item("api", "API").run(ctx)
    catalogue.add_item("gpu", "GPU").run(ctx)
    catalogue.add_price(
        ctx,
        item_id="api",
        event_name="call",
        metric="sum:n",
        credits_per_unit=format(CALL_RATE, "f"),
    ).run(ctx)
    catalogue.add_price(
        ctx,
        item_id="gpu",
        event_name="tick",
        metric="count",
        credits_per_unit=format(TICK_RATE, "f"),
    ).run(ctx)
    clock.now += timedelta(days=1)
    yield Context(ctx, clock)
    report = verify(ctx)
    assert report.clean, report.mismatches[:3]
    ctx.db.close()


# --- the reference model ------------------------------------------------------------------


@dataclass
class Version:
    """One stored version of an event: (customer, key, origin) in drawdown's terms."""

    customer: str
    key: str
    origin: str
    name: str
    at: datetime
    n: Decimal
    status: str = "live"  # live pending deprecated replaced reverted skipped
    deducted: bool = False
    replaced_by: str | None = None

    def price(self) -> Decimal:
        return self.n * CALL_RATE if self.name == "call" else TICK_RATE


@dataclass
class ModelBackfill:
    id: str
    customer: str
    start: datetime
    end: datetime
    replace: bool
    status: str = "pending"
    closed: int | None = None  # close order


class Model:
    def __init__(self) -> None:
        self.versions: dict[tuple[str, str, str], Version] = {}
        self.backfills: dict[str, ModelBackfill] = {}
        self.closes = 0

    def live(self, customer: str, key: str) -> Version | None:
        found = [
            v
            for v in self.versions.values()
            if (v.customer, v.key, v.status) == (customer, key, "live")
        ]
        return found[0] if found else None

    def ingest(self, version: Version) -> None:
        if not any(
            (v.customer, v.key) == (version.customer, version.key) for v in self.versions.values()
        ):
            self.versions[version.customer, version.key, ""] = version

    def deduct(self, now: datetime) -> None:
        for v in self.versions.values():
            if v.status == "live" and not v.deducted and v.at < now:
                v.deducted = True

    def overlaps(self, customer: str, start: datetime, end: datetime) -> bool:
        return any(
            b.customer == customer
            and b.status in ("pending", "pending_revert")
            and b.start < end
            and b.end > start
            for b in self.backfills.values()
        )

    def backfill_ingest(self, backfill: ModelBackfill, version: Version) -> None:
        self.versions.setdefault((version.customer, version.key, backfill.id), version)

    def close(self, b: ModelBackfill, now: datetime) -> None:
        if b.status != "pending":
            return
        mine = [v for v in self.versions.values() if v.origin == b.id and v.status == "pending"]
        replaced = (
            [
                v
                for v in self.versions.values()
                if v.customer == b.customer
                and v.status == "live"
                and v.origin != b.id
                and b.start <= v.at < b.end
            ]
            if b.replace
            else []
        )
        kept = {
            v.key for v in self.versions.values() if v.customer == b.customer and v.status == "live"
        } - {v.key for v in replaced}
        for v in replaced:
            v.status, v.replaced_by = "replaced", b.id
        for v in mine:
            v.status = "skipped" if v.key in kept else "live"
            v.deducted = v.status == "live" and v.at < now
        self.closes += 1
        b.status, b.closed = "reflected", self.closes

    def blocked_revert(self, b: ModelBackfill) -> bool:
        return b.status == "reflected" and any(
            o.status == "reflected"
            and o.customer == b.customer
            and (o.closed or 0) > (b.closed or 0)
            and o.start < b.end
            and o.end > b.start
            for o in self.backfills.values()
        )

    def revert(self, b: ModelBackfill, now: datetime) -> None:
        if b.status not in ("pending", "reflected"):
            return
        for v in self.versions.values():
            if v.origin == b.id and v.status in ("live", "pending"):
                v.status = "reverted"
            elif v.status == "replaced" and v.replaced_by == b.id:
                v.status, v.replaced_by, v.deducted = "live", None, v.at < now
        b.status = "reverted"

    def owed(self, customer: str) -> Decimal:
        return sum(
            (
                v.price()
                for v in self.versions.values()
                if v.customer == customer and v.status == "live" and v.deducted
            ),
            Decimal(0),
        )


# --- one random sequence on both ----------------------------------------------------------

NAMES = st.sampled_from(["call", "tick"])
_OPS = {  # kind: (strategy, weight)
    "ingest": (
        st.tuples(
            st.just("ingest"),
            st.integers(0, 1),
            st.integers(0, 5),
            NAMES,
            st.sampled_from(AMOUNTS),
            st.integers(0, 90),
            st.booleans(),
        ),
        4,
    ),
    "amend": (st.tuples(st.just("amend"), st.integers(0, 99), st.sampled_from(AMOUNTS), NAMES), 3),
    "deprecate": (st.tuples(st.just("deprecate"), st.integers(0, 99)), 1),
    "deduct": (st.tuples(st.just("deduct")), 3),
    "backfill": (
        st.tuples(
            st.just("backfill"),
            st.integers(0, 1),
            st.integers(1, 120),
            st.integers(1, 90),
            st.booleans(),
        ),
        2,
    ),
    "bf_ingest": (
        st.tuples(
            st.just("bf_ingest"),
            st.integers(0, 99),
            st.integers(0, 7),
            NAMES,
            st.sampled_from(AMOUNTS),
            st.floats(0, 0.99),
        ),
        4,
    ),
    "close": (st.tuples(st.just("close"), st.integers(0, 99)), 2),
    "revert": (st.tuples(st.just("revert"), st.integers(0, 99)), 1),
    "wait": (st.tuples(st.just("wait"), st.integers(1, 90)), 1),
}
OPS = st.one_of(*(strategy for strategy, weight in _OPS.values() for _ in range(weight)))


STEPS: dict[str, int] = {}  # operations run, by kind (printed at the end)


class Run:
    """One sequence: two fresh customers (with an expiring block each) and the model."""

    def __init__(self, world: Context) -> None:
        self.w, self.ctx, self.clock = world, world.ctx, world.clock
        self.model = Model()
        self.tag = f"s{next(world.counter)}"
        self.customers = [self._customer(i) for i in range(2)]

    def _customer(self, i: int) -> str:
        made = customers.create_customer({"name": "M", "email": "m@example.com"}).run(self.ctx)
        ref = CustomerRef(id=made.id)
        soon = (self.clock.now + timedelta(hours=2)).isoformat()
        for amount, extra in ((5, {"expiry_date": soon}), (50, {})):
            entries.create_entry(
                ref, entry_request({"entry_type": "increment", "amount": Decimal(amount), **extra})
            ).run(self.ctx)
        return str(made.id)

    def step(self, op: tuple[Any, ...]) -> None:
        self.clock.now += timedelta(seconds=1)
        before = [self.model.owed(c) for c in self.customers]
        getattr(self, "_" + op[0])(*op[1:])
        STEPS[op[0]] = STEPS.get(op[0], 0) + 1
        corrective = op[0] in ("amend", "deprecate", "close", "revert")
        if corrective and before != [self.model.owed(c) for c in self.customers]:
            STEPS["usage corrected"] = STEPS.get("usage corrected", 0) + 1
        self.check(op)

    def _event(self, customer: str, key: str, name: str, n: Decimal, at: datetime) -> Any:
        return {
            "idempotency_key": key,
            "event_name": name,
            "timestamp": at.isoformat(),
            "properties": {"n": n},
            "customer_id": customer,
        }

    def _ingest(self, who: int, key: int, name: str, n: Decimal, age: int, then: bool) -> None:
        customer, at = self.customers[who], self.clock.now - timedelta(minutes=age)
        event = self._event(customer, f"{self.tag}-k{key}", name, n, at)
        assert isinstance(ingest.ingest(self.ctx, [event]), ingest.Ingested)
        self.model.ingest(Version(customer, event["idempotency_key"], "", name, at, n))
        if then:  # as the deducter would, a moment later
            self.clock.now += timedelta(seconds=1)
            self._deduct()

    def _pick_live(self, pick: int) -> Version | None:
        live = sorted(
            (v for v in self.model.versions.values() if v.status == "live"),
            key=lambda v: (v.customer, v.key),
        )
        return live[pick % len(live)] if live else None

    def _amend(self, pick: int, n: Decimal, name: str) -> None:
        v = self._pick_live(pick)
        if v is None:
            return
        body = {
            "event_name": name,
            "timestamp": v.at.isoformat(),
            "properties": {"n": n},
            "customer_id": v.customer,
        }
        events.amend(v.key, events.parse_amendment(body)).run(self.ctx)
        v.name, v.n = name, n

    def _deprecate(self, pick: int) -> None:
        v = self._pick_live(pick)
        if v is not None:
            events.deprecate(v.customer, v.key).run(self.ctx)
            v.status = "deprecated"

    def _deduct(self) -> None:
        deduct.deduct_due(self.ctx)
        self.model.deduct(self.clock.now)

    def _wait(self, minutes: int) -> None:
        self.clock.now += timedelta(minutes=minutes)

    def _backfill(self, who: int, age: int, length: int, replace: bool) -> None:
        customer = self.customers[who]
        start = self.clock.now - timedelta(minutes=age)
        end = min(start + timedelta(minutes=length), self.clock.now)
        body = {
            "timeframe_start": start.isoformat(),
            "timeframe_end": end.isoformat(),
            "customer_id": customer,
            "replace_existing_events": replace,
        }
        backfill_id = f"{self.tag}-b{len(self.model.backfills)}"
        work = backfills.create(backfills.parse(body), backfill_id)
        if self.model.overlaps(customer, start, end):
            with pytest.raises(ConstraintViolation):
                work.run(self.ctx)
            return
        work.run(self.ctx)
        self.model.backfills[backfill_id] = ModelBackfill(
            backfill_id, customer, start, end, replace
        )

    def _pick_backfill(self, pick: int) -> ModelBackfill | None:
        made = sorted(self.model.backfills)
        return self.model.backfills[made[pick % len(made)]] if made else None

    def _bf_ingest(self, pick: int, key: int, name: str, n: Decimal, where: float) -> None:
        pending = sorted(k for k, b in self.model.backfills.items() if b.status == "pending")
        if not pending:
            return
        b = self.model.backfills[pending[pick % len(pending)]]
        at = b.start + (b.end - b.start) * where
        event = self._event(b.customer, f"{self.tag}-k{key}", name, n, at)
        assert isinstance(ingest.ingest(self.ctx, [event], b.id), ingest.Ingested)
        self.model.backfill_ingest(
            b, Version(b.customer, event["idempotency_key"], b.id, name, at, n, status="pending")
        )

    def _close(self, pick: int) -> None:
        b = self._pick_backfill(pick)
        if b is None:
            return
        if b.status in ("reverted", "pending_revert"):
            with pytest.raises(ConstraintViolation):
                backfill_changes.close(self.ctx, b.id)
            return
        assert backfill_changes.close(self.ctx, b.id).status == "reflected"
        self.model.close(b, self.clock.now)

    def _revert(self, pick: int) -> None:
        b = self._pick_backfill(pick)
        if b is None:
            return
        if self.model.blocked_revert(b):
            with pytest.raises(ConstraintViolation):
                backfill_changes.revert(self.ctx, b.id)
            return
        assert backfill_changes.revert(self.ctx, b.id).status == "reverted"
        self.model.revert(b, self.clock.now)

    # --- the comparison ---------------------------------------------------------------------

    def check(self, op: tuple[Any, ...]) -> None:
        for customer in self.customers:
            where = f"{self.tag} after {op} for {customer}"
            assert self._net(customer) + self._carried(customer) == self.model.owed(customer), where
            assert self._stored(customer) == self._expected(customer), where

    def _net(self, customer: str) -> Decimal:
        query = reads.EntryQuery(None, None, None, None, [], None, 10_000)
        total = Decimal(0)
        for view in reads.list_entries(self.ctx, CustomerRef(id=customer), query):
            entry = view.entry
            if entry.entry_type == "decrement" and "usage_item_id" in entry.metadata:
                total += entry.amount
            elif "usage_correction_id" in entry.metadata:
                total -= entry.amount
        return total

    def _carried(self, customer: str) -> Decimal:
        with self.ctx.db.read() as tx:
            return sum(usage_store.carry(tx, customer).values(), Decimal(0))

    def _stored(self, customer: str) -> dict[tuple[str, str], tuple[str, bool]]:
        with self.ctx.db.read() as tx:
            found = correction_store.events_of(tx, customer)
        return {
            (e.idempotency_key, e.origin): (
                e.status,
                e.deduction_id is not None and e.status == "live",
            )
            for e in found
        }

    def _expected(self, customer: str) -> dict[tuple[str, str], tuple[str, bool]]:
        return {
            (v.key, v.origin): (v.status, v.deducted and v.status == "live")
            for v in self.model.versions.values()
            if v.customer == customer
        }


def _examples(request: pytest.FixtureRequest) -> int:
    sqlite = "sqlite" in request.node.callspec.id
    return scale(60, 1000) if sqlite else scale(15, 200)


def test_corrections_agree_with_the_reference_model(
    world: Context, request: pytest.FixtureRequest
) -> None:
    STEPS.clear()

    @settings(
        max_examples=_examples(request),
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        setup=st.lists(_OPS["ingest"][0], min_size=3, max_size=8),
        ops=st.lists(OPS, min_size=8, max_size=40),
    )
    def sequence(setup: list[tuple[Any, ...]], ops: list[tuple[Any, ...]]) -> None:
        run = Run(world)
        for op in [*setup, *ops, ("deduct",)]:  # some usage first, then anything
            run.step(op)

    sequence()
    print(f"\nusage corrections model: {sum(STEPS.values())} steps {dict(sorted(STEPS.items()))}")
