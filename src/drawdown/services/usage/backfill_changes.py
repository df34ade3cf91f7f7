"""Closing and reverting backfills (`backfills.py` creates them), customer by customer.

Closing, per customer, in one write job holding the customer's lock:

    the live events of the timeframe leave (when the backfill replaces them) → the
    backfill's events enter (those whose key a live event keeps are skipped) → the ledger
    moves by the difference only (`corrections.correct`) → the rows change, in a few bulk
    statements

and the backfill is `reflected` once every customer's part has committed. A revert undoes a
reflected backfill the same way (its events leave, the events it replaced come back),
newest first: a backfill that a later reflected one overlaps cannot be reverted before it.

Each customer's part is one transaction and finds nothing left to do once done, so a close
or revert interrupted by a crash is simply run again (the deducter does it, `finish_due`):
no part is ever applied twice. The backfill's row says where it is: `closed_at` set and
still `pending` while closing, `pending_revert` while reverting (Orb's statuses).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from drawdown.records import Backfill
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ConstraintViolation, ResourceNotFound
from drawdown.services.usage.corrections import Correction, correct, due_cutoff
from drawdown.services.write_path import CustomerRef, CustomerWrite, Work, customer_work, work
from drawdown.store import backfills as store
from drawdown.store import corrections as events
from drawdown.store import usage as usage_store
from drawdown.store.tx import Tx

log = logging.getLogger("drawdown.usage")

UNFINISHED_PER_RUN_MAX = 20


# --- close ----------------------------------------------------------------------------------


def begin_close(backfill_id: str) -> Work[Backfill]:
    """Start closing: no event enters the backfill any more. Closing one already closing or
    reflected changes nothing (a retried close goes on where the first stopped)."""

    def body(tx: Tx, now: datetime) -> Backfill:
        backfill = _locked(tx, backfill_id)
        if backfill.status in ("pending_revert", "reverted"):
            raise ConstraintViolation(
                "backfill_id",
                f"backfill {backfill_id} is {backfill.status}; it can no longer be closed",
            )
        if backfill.status == "pending" and backfill.closed_at is None:
            store.change(tx, backfill_id, closed_at=now)
            backfill = _locked(tx, backfill_id)
        return backfill

    return work(body)


def _locked(tx: Tx, backfill_id: str) -> Backfill:
    backfill = store.get(tx, backfill_id, lock=True)
    if backfill is None:
        raise ResourceNotFound("Backfill", backfill_id)
    return backfill


def customers_to_close(ctx: ServiceContext, backfill: Backfill) -> list[str]:
    """Live customers with a part in the close: events of the backfill waiting, or (when it
    replaces) live events in its timeframe."""
    with ctx.db.read() as tx:
        found = events.customers_to_close(
            tx,
            backfill.timeframe_start,
            backfill.timeframe_end,
            backfill.customer_id,
            backfill.id,
            backfill.replace_existing_events,
        )
        return _live(tx, found)


def _live(tx: Tx, customer_ids: list[str]) -> list[str]:
    # A deleted customer's events stay as they are: its ledger takes no more writes.
    live = usage_store.live_customer_ids(tx, customer_ids)
    return [c for c in customer_ids if c in live]


def close_customer(backfill: Backfill, customer_id: str) -> Work[Correction]:
    """One customer's part of a close, in one transaction (a no-op once done)."""

    def body(write: CustomerWrite) -> Correction:
        start, end, bid = backfill.timeframe_start, backfill.timeframe_end, backfill.id
        incoming = events.backfill_events(write.tx, write.customer_id, bid, "pending", start, end)
        replaced = (
            events.live_in_window(write.tx, write.customer_id, start, end, bid)
            if backfill.replace_existing_events
            else []
        )
        gone = {e.idempotency_key for e in replaced}
        kept = events.held_keys(write.tx, write.customer_id, bid) - gone
        cutoff, correction_id = due_cutoff(write.ctx, write.now), write.ctx.new_id()
        entering = [
            e.usage for e in incoming if e.idempotency_key not in kept and e.timestamp < cutoff
        ]
        leaving = [e.usage for e in replaced if e.deduction_id is not None]
        done = correct(write, entering, leaving, "backfill_close", correction_id)
        if replaced:
            events.replace_window(write.tx, write.customer_id, start, end, bid, write.now)
        events.skip(write.tx, write.customer_id, bid, sorted(kept), write.now)
        events.enter(write.tx, write.customer_id, bid, start, end, cutoff, correction_id, write.now)
        return done

    return customer_work(CustomerRef(id=customer_id), body)


def end_close(backfill_id: str) -> Work[Backfill]:
    """Every customer's part has committed: the backfill is reflected (close_time = when its
    close started)."""

    def body(tx: Tx, _now: datetime) -> Backfill:
        backfill = _locked(tx, backfill_id)
        if backfill.closing:
            store.change(tx, backfill_id, status="reflected", close_time=backfill.closed_at)
            backfill = _locked(tx, backfill_id)
        if backfill.status != "reflected":
            raise ConstraintViolation("backfill_id", f"backfill {backfill_id} is {backfill.status}")
        return backfill

    return work(body)


def prepare_close(ctx: ServiceContext, backfill_id: str) -> None:
    """Everything of a close but its last step (`end_close`), from a thread."""
    backfill = begin_close(backfill_id).run(ctx)
    if backfill.closing:
        _all_at_once(ctx, [close_customer(backfill, c) for c in customers_to_close(ctx, backfill)])


def close(ctx: ServiceContext, backfill_id: str) -> Backfill:
    """Close a backfill (CLI, tests, the deducter; the API runs `end_close` as its reply)."""
    prepare_close(ctx, backfill_id)
    return end_close(backfill_id).run(ctx)


# --- revert ---------------------------------------------------------------------------------


def begin_revert(backfill_id: str) -> Work[Backfill]:
    """Start reverting (`pending_revert`). A reflected backfill that a later reflected one
    overlaps must wait for that one's revert; reverting twice changes nothing."""

    def body(tx: Tx, _now: datetime) -> Backfill:
        backfill = _locked(tx, backfill_id)
        if backfill.closing:
            raise ConstraintViolation(
                "backfill_id", f"backfill {backfill_id} is closing; revert it once it is reflected"
            )
        if backfill.status == "reflected":
            later = store.reflected_after(tx, backfill)
            if later:
                raise ConstraintViolation(
                    "backfill_id",
                    f"backfill {later[0]} was closed later over the same events; revert it first",
                )
        if backfill.status in ("pending", "reflected"):
            store.change(tx, backfill_id, status="pending_revert")
            backfill = _locked(tx, backfill_id)
        return backfill

    return work(body)


def customers_to_revert(ctx: ServiceContext, backfill: Backfill) -> list[str]:
    with ctx.db.read() as tx:
        found = events.customers_to_revert(
            tx, backfill.timeframe_start, backfill.timeframe_end, backfill.customer_id, backfill.id
        )
        return _live(tx, found)


def revert_customer(backfill: Backfill, customer_id: str) -> Work[Correction]:
    """One customer's part of a revert, in one transaction (a no-op once done): the
    backfill's events leave, the events it replaced come back."""

    def body(write: CustomerWrite) -> Correction:
        start, end, bid = backfill.timeframe_start, backfill.timeframe_end, backfill.id
        leaving = events.backfill_events(write.tx, write.customer_id, bid, "live", start, end)
        back = events.replaced_by(write.tx, write.customer_id, bid, start, end)
        cutoff, correction_id = due_cutoff(write.ctx, write.now), write.ctx.new_id()
        done = correct(
            write,
            [e.usage for e in back if e.timestamp < cutoff],
            [e.usage for e in leaving if e.deduction_id is not None],
            "backfill_revert",
            correction_id,
        )
        events.withdraw(write.tx, write.customer_id, bid, start, end, write.now)
        events.restore(
            write.tx, write.customer_id, bid, start, end, cutoff, correction_id, write.now
        )
        return done

    return customer_work(CustomerRef(id=customer_id), body)


def end_revert(backfill_id: str) -> Work[Backfill]:
    def body(tx: Tx, now: datetime) -> Backfill:
        backfill = _locked(tx, backfill_id)
        if backfill.status == "pending_revert":
            store.change(tx, backfill_id, status="reverted", reverted_at=now)
            backfill = _locked(tx, backfill_id)
        if backfill.status != "reverted":
            raise ConstraintViolation("backfill_id", f"backfill {backfill_id} is {backfill.status}")
        return backfill

    return work(body)


def prepare_revert(ctx: ServiceContext, backfill_id: str) -> None:
    """Everything of a revert but its last step (`end_revert`), from a thread."""
    backfill = begin_revert(backfill_id).run(ctx)
    if backfill.status == "pending_revert":
        parts = [revert_customer(backfill, c) for c in customers_to_revert(ctx, backfill)]
        _all_at_once(ctx, parts)


def _all_at_once(ctx: ServiceContext, parts: Sequence[Work[Any]]) -> None:
    """Submit every customer's part, then wait for them all: submitted together, they share
    group commits."""
    pending = [part.pending(ctx) for part in parts]
    for part in pending:
        part.wait()


def revert(ctx: ServiceContext, backfill_id: str) -> Backfill:
    """Revert a backfill (CLI, tests, the deducter; the API runs `end_revert` as its reply)."""
    prepare_revert(ctx, backfill_id)
    return end_revert(backfill_id).run(ctx)


# --- the deducter's round -------------------------------------------------------------------


def finish_due(ctx: ServiceContext) -> int:
    """Close the backfills whose close_time has come, and finish any close or revert that
    stopped half-way (a crash, a failed part); returns how many were finished."""
    with ctx.db.read() as tx:
        due = store.unfinished(tx, ctx.now(), UNFINISHED_PER_RUN_MAX)
    done = 0
    for backfill in due:
        try:
            if backfill.status == "pending_revert":
                revert(ctx, backfill.id)
            else:
                close(ctx, backfill.id)
            done += 1
        except Exception:  # one backfill's failure must not stop the others (or usage)
            log.exception("backfill %s could not be finished", backfill.id)
    return done
