"""Corrections of usage that is already in the ledger, with exactly-once ledger effects.

Usage is in the ledger exactly for live events with a `deduction_id`. A correction (an
amendment, a deprecation, a backfill's close or revert) names the events whose usage
*leaves* the ledger and the events whose usage *enters* it, inside the write job of their
customer (one transaction, the customer locked, so no deduction runs meanwhile); it prices
both with `ledger/usage.py` and moves each (ledger, item) by the difference only
(`ledger/corrections.py`):

* more usage → one further usage `Decrement(item_id=…)`, drawn like a deduction;
* less usage → `Amendment` entries (§4.12 of docs/rules.md: an amendment is the undo of a decrement)
  giving the credits back to the blocks usage drew them from, newest draw first; what
  cannot go back there (the block expired, was deleted, or has no room under its ceiling)
  is granted in a new block ("usage refund", never expiring, no cost basis);

and keeps the carry, so Σ usage decrements − Σ refunds + carry == Σ priced usage of the
live deducted events, to the last decimal. Every entry is written by `run_command`, so it
is in the ledger's command log and `drawdown verify` replays it. The caller changes the
events' rows in the same transaction; a crash keeps both or neither, and a correction
whose events already changed finds nothing left to do (never a second charge or refund).

Entries say what they are in their metadata: `usage_item_id`, `usage_correction` (the
reason), and `usage_deduction_id` (charges, like a deduction) or `usage_correction_id`
(refunds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from drawdown.ledger import Outcome
from drawdown.ledger.commands import Amendment, Decrement, Increment
from drawdown.ledger.corrections import difference, place_refund, split_correction
from drawdown.ledger.dates import format_instant
from drawdown.ledger.usage import Catalogue, Charge, ChargeKey, UsageEvent, price_events
from drawdown.services.context import ServiceContext
from drawdown.services.write_path import CustomerWrite, run_command
from drawdown.store import corrections as store
from drawdown.store import usage as usage_store

_ZERO = Decimal(0)
REASONS = ("amend", "deprecate", "backfill_close", "backfill_revert")


def due_cutoff(ctx: ServiceContext, now: datetime) -> datetime:
    """Events timestamped before this instant are due: their usage belongs in the ledger."""
    return now - timedelta(seconds=ctx.settings.usage_grace_seconds)


@dataclass
class Correction:
    """What one correction moved, per (ledger, item): drawn by decrements, given back."""

    id: str
    charged: dict[ChargeKey, Decimal] = field(default_factory=dict)
    refunded: dict[ChargeKey, Decimal] = field(default_factory=dict)


def correct(
    write: CustomerWrite,
    entering: Sequence[UsageEvent],
    leaving: Sequence[UsageEvent],
    reason: str,
    correction_id: str,
) -> Correction:
    """Move the customer's ledgers by the priced usage of ``entering`` minus that of
    ``leaving`` (events whose usage enters / leaves the ledger now)."""
    assert reason in REASONS, reason
    done = Correction(correction_id)
    if not entering and not leaving:
        return done
    catalogue = Catalogue(usage_store.prices(write.tx))
    plus, minus = price_events(entering, catalogue), price_events(leaving, catalogue)
    deltas = difference(plus, minus)
    if not deltas:
        return done
    carried = usage_store.carry(write.tx, write.customer_id)
    names = {item.id: item.name for item in usage_store.items(write.tx)}
    for key, delta in deltas.items():
        amount, rest = split_correction(delta, carried.get((key.currency, key.item_id), _ZERO))
        name = names.get(key.item_id, key.item_id)
        if amount > 0:  # more usage: delta > 0, so the key is among the entering charges
            _charge(write, key, amount, plus[key], reason, correction_id, name)
            done.charged[key] = amount
        elif amount < 0:
            _refund(write, key, -amount, reason, correction_id, name)
            done.refunded[key] = -amount
        usage_store.set_carry(
            write.tx, write.customer_id, key.currency, key.item_id, rest, write.now
        )
    return done


def _charge(
    write: CustomerWrite,
    key: ChargeKey,
    amount: Decimal,
    charge: Charge,
    reason: str,
    correction_id: str,
    name: str,
) -> None:
    metadata = {
        "usage_item_id": key.item_id,
        "usage_events": str(charge.events),
        "usage_window_start": format_instant(charge.first_at, fractions=True),
        "usage_window_end": format_instant(charge.last_at, fractions=True),
        "usage_deduction_id": correction_id,
        "usage_correction": reason,
    }
    command = Decrement(
        amount,
        f"Usage correction: {name}",
        metadata,
        item_id=key.item_id,
        deficit_block_id=write.ctx.new_id(),
    )
    record_draws(write, key, run_command(write, key.currency, command))


def record_draws(
    write: CustomerWrite, key: ChargeKey, outcome: Outcome, known: store.Drawn | None = None
) -> None:
    """Remember which blocks a usage decrement drew from (refunds go back there); ``known``:
    what `store.drawn` read for the job beforehand (the deducter's bulk path)."""
    taken = [(e.block_id, e.amount, e.seq) for e in outcome.entries if e.entry_type == "decrement"]
    store.add_draws(write.tx, write.customer_id, key.currency, key.item_id, taken, write.now,
                    known)  # fmt: skip


def _refund(
    write: CustomerWrite,
    key: ChargeKey,
    amount: Decimal,
    reason: str,
    correction_id: str,
    name: str,
) -> None:
    metadata = {
        "usage_item_id": key.item_id,
        "usage_correction_id": correction_id,
        "usage_correction": reason,
    }
    draws = store.draws(write.tx, write.customer_id, key.currency, key.item_id)
    state = write.state(key.currency, [d.block_id for d in draws])
    placed, rest = place_refund(amount, draws, state.blocks, write.now)
    for block_id, part in placed:
        command = Amendment(block_id, part, f"Usage correction: {name}", metadata)
        run_command(write, key.currency, command, block_ids=[block_id])
    store.add_returned(write.tx, write.customer_id, key.currency, key.item_id, placed, write.now)
    if rest > 0:
        grant = Increment(
            block_id=write.ctx.new_id(),
            entry_id=write.ctx.new_id(),
            amount=rest,
            effective_date=write.now,
            metadata=metadata,
            description=f"Usage refund: {name}",
        )
        run_command(write, key.currency, grant)
