"""Read-only questions about a ledger state: drawdown order, drawable balance, entry status.

These are pure functions of (state, instant); the engine and the service layer both use them,
so the block list order (§2.2) and the deduction order (R-DED-2) can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from drawdown.ledger.amounts import exact_arithmetic
from drawdown.ledger.errors import AmbiguousBlockExpiry, NoBlockWithExpiry
from drawdown.ledger.model import Block, Entry, EntryStatus, LedgerState

_NEVER = datetime.max.replace(tzinfo=UTC)
_ZERO = Decimal(0)

OrderKey = tuple[bool, datetime, Decimal, datetime, int, str]


def drawdown_key(block: Block) -> OrderKey:
    """R-DED-2: expiry asc (never last), cost basis asc (null = 0), effective asc, creation."""
    return (
        block.expiry_date is None,
        block.expiry_date or _NEVER,
        block.per_unit_cost_basis or _ZERO,
        block.effective_date,
        block.created_seq,
        block.id,  # only reached for blocks of different ledgers; keeps the order total
    )


def drawdown_order(blocks: Iterable[Block]) -> list[Block]:
    """``blocks`` sorted in drawdown order (R-DED-2), also the block list order (§2.2)."""
    return sorted(blocks, key=drawdown_key)


def expiry_key(block: Block) -> tuple[datetime, OrderKey]:
    """Order of due expiries: chronological, ties in drawdown order (R-EXPY-2)."""
    assert block.expiry_date is not None
    return (block.expiry_date, drawdown_key(block))


def drawable_blocks(state: LedgerState, at: datetime) -> list[Block]:
    """Blocks a decrement at ``at`` may take from, in drawdown order (R-DED-1, R-DED-2)."""
    return drawdown_order(block for block in state.blocks.values() if block.is_drawable(at))


def drawable_balance(state: LedgerState, at: datetime) -> Decimal:
    """D: the sum of balances of drawable blocks (§4.0); the top-up threshold compares it."""
    # Exact: the default 28-digit context would round a 30-digit balance before comparing.
    with exact_arithmetic():
        return sum((block.balance for block in drawable_blocks(state, at)), _ZERO)


def entry_status(entry: Entry, block: Block, at: datetime) -> EntryStatus:
    """R-PEND-1/3: only an increment whose block is not yet effective is pending."""
    assert entry.block_id == block.id
    return status_of(entry.entry_type, block, at)


def status_of(entry_type: str, block: Block, at: datetime) -> EntryStatus:
    """`entry_status` of an entry of this type on this block (for a reader holding only them)."""
    if entry_type == "increment" and not block.is_effective(at):
        return "pending"
    return "committed"


def find_block_by_expiry(state: LedgerState, expiry: datetime) -> Block:
    """The unique block with this expiry_date and a positive balance (R-EXP-2)."""
    matches = [
        block
        for block in state.blocks.values()
        if block.expiry_date == expiry and block.balance > 0
    ]
    if not matches:
        raise NoBlockWithExpiry(
            "expiry_date", "no credit block with a balance has this expiry_date"
        )
    if len(matches) > 1:
        raise AmbiguousBlockExpiry(
            "expiry_date", "several credit blocks have this expiry_date; pass block_id instead"
        )
    return matches[0]
