"""Automatic deductions: priced usage becomes decrement entries, exactly once.

Usage is due when its timestamp is older than the grace period (`DRAWDOWN_USAGE_GRACE_SECONDS`;
no later event can then be accepted for that time). For each customer with due events, one
write job of the one write path, holding the customer's lock:

    read the due live events (deduction_id null) → price them (ledger/usage.py) → add the
    carry → one usage decrement per (ledger, item), drawn in drawdown order from the blocks
    whose filters admit the item (remembering which, for refunds) → store the new carry →
    mark the events with this deduction's id

all in one transaction, so a crash leaves either everything or nothing, and a second
deducter (another process, the CLI) that waited for the lock finds the events marked. The
entry records what it is for in its metadata (docs/decisions.md "Usage"): `usage_item_id`,
`usage_events`, `usage_window_start` / `usage_window_end` (first and last event timestamp)
and `usage_deduction_id` (the mark on the events).

Each deduction is a debug line and an observer report (`usage_deducted`: the lag of each
event from its acceptance to the draw, for the metrics); the background deducter warns when
usage is still undeducted `DRAWDOWN_USAGE_LATE_WARNING_SECONDS` after it fell due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from drawdown.ledger.commands import Decrement
from drawdown.ledger.dates import format_instant
from drawdown.ledger.usage import Catalogue, Charge, ChargeKey, price_events, split_deduction
from drawdown.services.context import ServiceContext
from drawdown.services.errors import WritesUnavailable
from drawdown.services.usage import backfill_changes
from drawdown.services.usage.corrections import due_cutoff, record_draws
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    run_command,
)
from drawdown.store import corrections as corrections_store
from drawdown.store import usage as store

log = logging.getLogger("drawdown.usage")

EVENTS_PER_DEDUCTION_MAX = 5000  # one job's events; more wait for the next round
CUSTOMERS_PER_ROUND_MAX = 200
ROUNDS_PER_RUN_MAX = 1000
PENDING_EVENTS_SHOWN_MAX = 10_000
STOP_WAIT_SECONDS = 2.0
LATE_WARNING_INTERVAL_SECONDS = 60.0
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Deduction:
    """What one customer's deduction drew: per (ledger, item), and how many events; and for
    each event, the seconds from its acceptance to this draw."""

    customer_id: str
    events: int
    drawn: dict[ChargeKey, Decimal]
    lag_seconds: tuple[float, ...] = ()


def cutoff(ctx: ServiceContext, now: datetime) -> datetime:
    """Events timestamped before this instant are final: due for deduction."""
    return due_cutoff(ctx, now)


def deduct_customer(customer_id: str, before: datetime | None = None) -> Work[Deduction]:
    """Deduct one customer's due usage (events before ``before``, default the grace cutoff)."""

    def body(write: CustomerWrite) -> Deduction:
        due = store.due_events(write.tx, write.customer_id, before or cutoff(write.ctx, write.now),
                               EVENTS_PER_DEDUCTION_MAX)  # fmt: skip
        if not due:
            return Deduction(write.customer_id, 0, {})
        events = [d.event for d in due]
        charges = price_events(events, Catalogue(store.prices(write.tx)))
        deduction_id = write.ctx.new_id()
        drawn = _draw(write, charges, deduction_id)
        # The events were read unmarked under the customer's lock in this transaction, so
        # the mark (buffered with the batch's other rows) takes every one of them.
        keys = [e.idempotency_key for e in events]
        store.mark_deducted(write.tx, write.customer_id, keys, deduction_id, write.now)
        lags = tuple((write.now - d.accepted_at).total_seconds() for d in due)
        return Deduction(write.customer_id, len(due), drawn, lags)

    return customer_work(CustomerRef(id=customer_id), body)


def _draw(
    write: CustomerWrite, charges: dict[ChargeKey, Charge], deduction_id: str
) -> dict[ChargeKey, Decimal]:
    # Everything this job reads, it reads before it writes: its rows then wait in the batch's
    # buffer and go out with the other jobs' (issue 20), with no savepoint of its own.
    carried = store.carry(write.tx, write.customer_id)
    names = {item.id: item.name for item in store.items(write.tx)}
    known = corrections_store.drawn(
        write.tx, write.customer_id, sorted({k.item_id for k in charges})
    )
    drawn: dict[ChargeKey, Decimal] = {}
    for key in sorted(charges, key=lambda k: (k.currency, k.item_id)):
        charge = charges[key]
        before = carried.get((key.currency, key.item_id), _ZERO)
        amount, rest = split_deduction(charge.amount, before)
        if amount > 0:
            text = f"Usage: {names.get(key.item_id, key.item_id)}"
            metadata = _metadata(key, charge, deduction_id)
            command = Decrement(amount, text, metadata, item_id=key.item_id,
                                deficit_block_id=write.ctx.new_id())  # fmt: skip
            record_draws(write, key, run_command(write, key.currency, command), known)
            drawn[key] = amount
        store.set_carry(write.tx, write.customer_id, key.currency, key.item_id, rest, write.now)
    return drawn


def _metadata(key: ChargeKey, charge: Charge, deduction_id: str) -> dict[str, str]:
    return {
        "usage_item_id": key.item_id,
        "usage_events": str(charge.events),
        "usage_window_start": format_instant(charge.first_at, fractions=True),
        "usage_window_end": format_instant(charge.last_at, fractions=True),
        "usage_deduction_id": deduction_id,
    }


def deduct_due(ctx: ServiceContext, before: datetime | None = None) -> list[Deduction]:
    """Deduct every customer's due usage, round by round, until none is left."""
    done: list[Deduction] = []
    for _ in range(ROUNDS_PER_RUN_MAX):
        limit = before or cutoff(ctx, ctx.now())
        with ctx.db.read() as tx:
            customers = store.due_customers(tx, limit, CUSTOMERS_PER_ROUND_MAX)
        if not customers:
            break
        pending = [deduct_customer(c, limit).pending(ctx) for c in customers]
        for deduction in (p.wait() for p in pending):
            _report(ctx, deduction)
            done.append(deduction)
    return done


def _report(ctx: ServiceContext, deduction: Deduction) -> None:
    ctx.observer.emit("usage_deducted", lag_seconds=deduction.lag_seconds)
    if deduction.events and log.isEnabledFor(logging.DEBUG):
        drawn = (
            ", ".join(
                f"{amount} {key.currency} for {key.item_id}"
                for key, amount in sorted(deduction.drawn.items())
            )
            or "nothing"
        )
        fields = {"customer_id": deduction.customer_id, "events": deduction.events}
        log.debug("usage deducted: customer %s, %d event(s), drew %s, lag up to %.1fs",
                  deduction.customer_id, deduction.events, drawn, max(deduction.lag_seconds),
                  extra=fields)  # fmt: skip


# --- pending usage (the console) -------------------------------------------------------------


@dataclass(frozen=True)
class PendingUsage:
    """Usage accepted but not yet deducted, priced as it will be (an estimate until due)."""

    events: int
    charges: dict[ChargeKey, Charge]
    due_at: datetime | None  # when the oldest of it becomes due


def pending_usage(ctx: ServiceContext, customer_id: str) -> PendingUsage:
    with ctx.db.read() as tx:
        events = store.pending_events(tx, customer_id, PENDING_EVENTS_SHOWN_MAX)
        catalogue = Catalogue(store.prices(tx))
    grace = timedelta(seconds=ctx.settings.usage_grace_seconds)
    due_at = min((e.timestamp for e in events), default=None)
    return PendingUsage(len(events), price_events(events, catalogue),
                        None if due_at is None else due_at + grace)  # fmt: skip


# --- the background deducter -----------------------------------------------------------------


class Deducter:
    """Runs `deduct_due` every poll, and at once when events are accepted with no grace;
    first it finishes the backfills due to close and any close or revert under way."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_late_warning = 0.0
        ctx.observer.subscribe("usage_accepted", self._accepted)

    def _accepted(self, count: int) -> None:
        if count and self.ctx.settings.usage_grace_seconds == 0:
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="drawdown-usage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_SECONDS)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.ctx.settings.usage_deduct_poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                backfill_changes.finish_due(self.ctx)
                deduct_due(self.ctx)
            except WritesUnavailable:  # the clock guard logged it once; try again next poll
                pass
            except Exception:  # the database may be away for a moment: try again next poll
                log.exception("usage deduction failed")
            try:
                self.warn_if_late()
            except Exception:
                log.exception("could not check for late usage")

    def warn_if_late(self) -> bool:
        """Warn (at most once a minute) when the oldest undeducted usage fell due more than
        `DRAWDOWN_USAGE_LATE_WARNING_SECONDS` ago; returns whether it is late."""
        ctx = self.ctx
        with ctx.db.read() as tx:
            oldest = store.oldest_pending(tx)
        if oldest is None:
            return False
        # Due once it is past the grace period and accepted (with grace 0, any past time).
        grace = timedelta(seconds=ctx.settings.usage_grace_seconds)
        due_at = max(oldest.timestamp + grace, oldest.accepted_at)
        overdue = (ctx.now() - due_at).total_seconds()
        margin = ctx.settings.usage_late_warning_seconds
        if overdue <= margin:
            return False
        if time.monotonic() >= self._next_late_warning:
            self._next_late_warning = time.monotonic() + LATE_WARNING_INTERVAL_SECONDS
            with ctx.db.read() as tx:
                pending = store.pending_count(tx)
            log.warning("usage is late: %d event(s) wait to be deducted; the oldest (customer "
                        "%s, timestamp %s) fell due %.0fs ago, more than "
                        "DRAWDOWN_USAGE_LATE_WARNING_SECONDS=%d (is a deduction failing?)",
                        pending, oldest.customer_id,
                        format_instant(oldest.timestamp, fractions=True), overdue, margin,
                        extra={"pending": pending, "customer_id": oldest.customer_id,
                               "overdue_seconds": round(overdue, 3)})  # fmt: skip
        return True


def drawn_total(deductions: Sequence[Deduction]) -> Decimal:
    return sum((amount for d in deductions for amount in d.drawn.values()), _ZERO)
