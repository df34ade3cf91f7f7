"""Refunds: the credits a credit note takes back, and the blocks it takes them from.

A credit note refunds money on a credit purchase; the credits go back in proportion to the
money: `quantity × credited ÷ total`, which is `credited ÷ per_unit_cost_basis` whenever the
invoice total was not rounded. Shares are cut down (never rounded up) to the ledger's stored
precision, and computed on the running total credited, so the shares of every credit note on
one invoice add up to exactly `quantity` once the whole total is credited.

The credits are taken only from what is left of the purchase: a refund never reaches into
credits already used (unlike a plain void, R-VOID-3) and never past what the block may still
void (R-VOID-1), so a refund of used credits takes back only what remains.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal, localcontext

from drawdown.ledger.amounts import ARITHMETIC_PRECISION, FRACTION_DIGITS_MAX
from drawdown.ledger.model import Block

_ZERO = Decimal(0)
_STEP = Decimal(1).scaleb(-FRACTION_DIGITS_MAX)


def share(quantity: Decimal, total: Decimal, credited: Decimal) -> Decimal:
    """Credits bought by `credited` of a purchase of `quantity` for `total`, cut down to the
    stored precision (`credited` = `total` gives exactly `quantity`)."""
    assert total > 0 and _ZERO <= credited <= total, (total, credited)
    with localcontext() as context:
        context.prec = 2 * ARITHMETIC_PRECISION
        context.rounding = ROUND_DOWN
        return (quantity * credited / total).quantize(_STEP)


def refunded_credits(
    quantity: Decimal, total: Decimal, credited_before: Decimal, credited_now: Decimal
) -> Decimal:
    """The credits one credit note of `credited_now` takes back, after `credited_before`."""
    assert credited_now > 0, credited_now
    after = share(quantity, total, credited_before + credited_now)
    return after - share(quantity, total, credited_before)


def refundable(block: Block) -> Decimal:
    """Credits a refund may still take from `block`: what is left, within R-VOID-1."""
    voidable = block.ceiling - block.voided - block.expired
    return max(min(block.balance, voidable), _ZERO)


def refund_voids(blocks: Sequence[Block], credits: Decimal) -> list[tuple[str, Decimal]]:
    """(block id, amount) voids taking up to `credits` from `blocks`, in the order given;
    less than `credits` in total when less remains."""
    voids: list[tuple[str, Decimal]] = []
    wanted = credits
    for block in blocks:
        taken = min(refundable(block), wanted)
        if taken > 0:
            voids.append((block.id, taken))
            wanted -= taken
    return voids
