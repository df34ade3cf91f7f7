"""Correcting usage already in the ledger: exact differences, the carry, where refunds go.

Pure functions of their arguments (no clock, no I/O), beside ``usage.py``'s pricing.
Invariants, per (ledger, item), with C the carry (0 ≤ C < one unit of the last stored
digit):

* Σ usage decrements − Σ usage refunds + C == Σ priced usage of the events whose usage is
  in the ledger, exactly. A deduction keeps it (``usage.split_deduction``); a correction of
  an exact, signed difference Δ keeps it by moving the ledger by ⌊Δ + C⌋ at the stored
  precision (``split_correction``): a decrement when positive, a refund when negative, and
  the rest is the new carry. Nothing is ever charged twice: a correction charges or refunds
  only the difference between the usage that leaves the ledger and the usage that enters.
* A refund goes back where usage came from (``place_refund``): to the blocks usage drew
  from, the most recent draws first, never more to a block than usage drew from it and
  has not had back, and only within R-AMD-2 (balance ≤ ceiling, not expired). What cannot
  go back that way is returned as ``rest``, for the caller to grant in a block of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation, Overflow, localcontext

from drawdown.ledger.amounts import FRACTION_DIGITS_MAX
from drawdown.ledger.model import Block
from drawdown.ledger.usage import Charge, ChargeKey

_ZERO = Decimal(0)
_QUANTUM = Decimal(1).scaleb(-FRACTION_DIGITS_MAX)
# Sums and differences of exact priced amounts: wide enough that nothing ever rounds.
_EXACT = Context(prec=200, traps=[InvalidOperation, Overflow])


def difference(
    entering: Mapping[ChargeKey, Charge], leaving: Mapping[ChargeKey, Charge]
) -> dict[ChargeKey, Decimal]:
    """Per (ledger, item): usage entering the ledger minus usage leaving it (exact, signed;
    keys whose difference is 0 are left out)."""
    result: dict[ChargeKey, Decimal] = {}
    with localcontext(_EXACT):
        for key in sorted(set(entering) | set(leaving)):
            plus = entering[key].amount if key in entering else _ZERO
            minus = leaving[key].amount if key in leaving else _ZERO
            if plus != minus:
                result[key] = plus - minus
    return result


def split_correction(delta: Decimal, carried: Decimal) -> tuple[Decimal, Decimal]:
    """(signed amount to move the ledger by now, new carry) for a difference ``delta``.

    The amount is ⌊delta + carried⌋ at the ledger's precision (towards −∞), so the carry
    stays in [0, one unit of the last stored digit): positive is a decrement, negative a
    refund. For delta ≥ 0 this is exactly ``usage.split_deduction``.
    """
    assert _ZERO <= carried < _QUANTUM, carried
    with localcontext(_EXACT):
        total = delta + carried
        amount = total.quantize(_QUANTUM, rounding=ROUND_FLOOR, context=_floor())
        rest = total - amount
    assert _ZERO <= rest < _QUANTUM, (delta, carried, rest)
    return amount, rest


def _floor() -> Context:
    # quantize with ROUND_FLOOR drops digits on purpose: the one place Inexact is expected.
    return Context(prec=200, rounding=ROUND_FLOOR, traps=[InvalidOperation, Overflow])


@dataclass(frozen=True)
class Draw:
    """What usage of one (ledger, item) drew from a block and has not had back yet."""

    block_id: str
    outstanding: Decimal  # drawn − returned, > 0
    last_seq: int  # ledger sequence number of the newest draw: refunds go newest first


def place_refund(
    amount: Decimal, draws: Sequence[Draw], blocks: Mapping[str, Block], now: datetime
) -> tuple[list[tuple[str, Decimal]], Decimal]:
    """(block id, amount) amendments returning ``amount`` to the blocks usage drew from,
    newest draw first, and the rest that could not go back (a block that is gone, expired,
    or without room under its ceiling, R-AMD-2)."""
    assert amount > 0, amount
    placed: list[tuple[str, Decimal]] = []
    rest = amount
    for draw in sorted(draws, key=lambda d: (-d.last_seq, d.block_id)):
        block = blocks.get(draw.block_id)
        if rest == 0 or block is None or block.is_expired(now):
            continue
        take = min(rest, draw.outstanding, block.ceiling - block.balance)
        if take > 0:
            placed.append((block.id, take))
            rest -= take
    return placed, rest
