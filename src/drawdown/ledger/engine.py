"""The pure decision function: (state, command, now, ids) -> outcome, plus expiry and replay.

Owns increments (R-INC, R-PEND), drawdown of decrements (R-DED, R-NEG), expiry (R-EXPY,
R-TIME-1) and replay after block deletion (R-DEL-2/3); commands that name an existing block
are delegated to ``adjust``. Every check happens before the first entry is written, so a raised
LedgerError leaves nothing behind and consumes no ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import assert_never

from drawdown.ledger import adjust
from drawdown.ledger.amounts import exact_arithmetic
from drawdown.ledger.commands import (
    Activate,
    Amendment,
    Command,
    Decrement,
    ExpirationChange,
    Increment,
    Void,
)
from drawdown.ledger.errors import CostBasisNegative, ExpiryNotAfterEffective
from drawdown.ledger.model import EMPTY_METADATA, Block, Entry, LedgerState
from drawdown.ledger.ordering import drawdown_order
from drawdown.ledger.writer import (
    Context,
    EntryText,
    LedgerWriter,
    NewId,
    Outcome,
    require_positive,
)

_ZERO = Decimal(0)


# --- expiry ---------------------------------------------------------------------------------


def expire_due(state: LedgerState, now: datetime) -> Outcome:
    """Write a credit_block_expiry entry for every block due at ``now`` (R-EXPY-1..4)."""
    _assert_utc(now)
    with exact_arithmetic():
        writer = LedgerWriter(state)
        writer.expire_due(now)
        return writer.outcome(None)


# --- apply ----------------------------------------------------------------------------------


def apply(
    state: LedgerState,
    command: Command,
    now: datetime,
    new_id: NewId,
    *,
    clamp: bool = False,
) -> Outcome:
    """Apply one command at ``now``.

    Due expiries are materialised first (R-TIME-1), so the outcome may start with
    credit_block_expiry entries; calling ``expire_due`` beforehand is allowed and makes that
    step a no-op. ``new_id`` names entries and deficit blocks the command does not name.
    ``clamp=True`` is replay mode (R-DEL-2).
    """
    _assert_utc(now)
    with exact_arithmetic():
        writer = LedgerWriter(state)
        writer.expire_due(now)
        response = _dispatch(writer, command, Context(now, new_id, clamp))
        return writer.outcome(response)


def _dispatch(writer: LedgerWriter, command: Command, ctx: Context) -> Entry | None:
    match command:
        case Increment():
            return _increment(writer, command, ctx)
        case Decrement():
            return _decrement(writer, command, ctx)
        case ExpirationChange():
            return adjust.expiration_change(writer, command, ctx)
        case Void():
            return adjust.void(writer, command, ctx)
        case Amendment():
            return adjust.amendment(writer, command, ctx)
        case Activate():
            adjust.activate(writer, command, ctx)
            return None
        case _:
            assert_never(command)


def _assert_utc(now: datetime) -> None:
    assert now.utcoffset() == timedelta(0), "the core works on aware UTC instants"


# --- increment (R-INC-*, R-PEND-*) ----------------------------------------------------------


def _increment(writer: LedgerWriter, command: Increment, ctx: Context) -> Entry:
    _validate_increment(command)
    assert command.block_id not in writer.blocks, "block ids are unique"
    block = Block(
        id=command.block_id,
        currency=writer.currency,
        balance=command.amount,
        maximum_initial_balance=command.amount,
        moved_out=_ZERO,
        voided=_ZERO,
        effective_date=command.effective_date,
        expiry_date=command.expiry_date,
        per_unit_cost_basis=command.per_unit_cost_basis,
        filters=command.filters,
        metadata=command.metadata,
        status=command.status,
        source=command.source,
        created_seq=writer.next_seq,
        created_at=writer.stamp(ctx.now),
        invoice_id=command.invoice_id,
        top_up_id=command.top_up_id,
    )
    writer.put(block)
    text = EntryText(command.description, block.metadata)
    entry = writer.write(
        "increment", block, command.amount, entry_id=command.entry_id, at=ctx.now, text=text
    )
    writer.expire_due(ctx.now)  # R-INC-4: an already expired block expires right away
    return entry


def _validate_increment(command: Increment) -> None:
    require_positive(command.amount)
    if command.expiry_date is not None and command.expiry_date <= command.effective_date:
        raise ExpiryNotAfterEffective("expiry_date", "must be after effective_date")
    if command.per_unit_cost_basis is not None and command.per_unit_cost_basis < 0:
        raise CostBasisNegative("per_unit_cost_basis", "must be greater than or equal to 0")


# --- decrement (R-DED-*, R-NEG-*) -----------------------------------------------------------


def _decrement(writer: LedgerWriter, command: Decrement, ctx: Context) -> Entry:
    require_positive(command.amount)
    text = EntryText(command.description, command.metadata)
    entries = [
        _take(writer, block_id, amount, text, ctx)
        for block_id, amount in _allocate(writer, command, ctx)
    ]
    return entries[-1]  # R-DED-5: the response is the last entry written


def _allocate(writer: LedgerWriter, command: Decrement, ctx: Context) -> list[tuple[str, Decimal]]:
    """(block id, amount taken) in walk order: one pair per block touched (R-DED-3/4).

    A usage deduction (``item_id`` set) walks only the blocks whose filters admit the item,
    so a block that excludes it is never drawn, not even for the uncovered rest.
    """
    amount, item_id = command.amount, command.item_id
    drawable = [b for b in writer.blocks.values() if b.is_drawable(ctx.now)]
    order = drawdown_order(
        drawable if item_id is None else [b for b in drawable if b.admits(item_id)]
    )
    takes: dict[str, Decimal] = {}
    rest = amount
    for block in order:
        if rest > 0 and block.balance > 0:
            takes[block.id] = min(rest, block.balance)
            rest -= takes[block.id]
    if rest > 0:
        # R-DED-4: the last drawable block is also last in walk order, so its entry stays last.
        seq = writer.next_seq + len(takes)
        last = order[-1] if order else _deficit_block(writer, command, seq, ctx)
        takes[last.id] = takes.get(last.id, _ZERO) + rest
    return list(takes.items())


def _deficit_block(
    writer: LedgerWriter, command: Decrement, created_seq: int, ctx: Context
) -> Block:
    """R-DED-4: a never-expiring, zero-ceiling block that carries an uncovered decrement."""
    block = Block(
        id=command.deficit_block_id or ctx.new_id(),
        currency=writer.currency,
        balance=_ZERO,
        maximum_initial_balance=_ZERO,
        moved_out=_ZERO,
        voided=_ZERO,
        effective_date=ctx.now,
        expiry_date=None,
        per_unit_cost_basis=None,
        filters=(),
        metadata=EMPTY_METADATA,
        status="active",
        source="manual",
        created_seq=created_seq,
        created_at=writer.stamp(ctx.now),
        invoice_id=None,
        top_up_id=None,
    )
    writer.put(block)
    return block


def _take(
    writer: LedgerWriter, block_id: str, amount: Decimal, text: EntryText, ctx: Context
) -> Entry:
    block = writer.blocks[block_id]
    entry = writer.write("decrement", block, amount, entry_id=ctx.new_id(), at=ctx.now, text=text)
    writer.put(block.evolve(balance=block.balance - amount))
    return entry


# --- replay (R-DEL-2/3) ---------------------------------------------------------------------


def replay(
    commands: Sequence[tuple[datetime, Command]],
    currency: str,
    until: datetime,
    new_id: NewId,
    *,
    chain_start: str = "",
) -> Outcome:
    """Re-derive a ledger from its command log, each command at its original instant.

    Sequence numbers restart at 1 and the hash chain at ``chain_start`` (the ledger's
    genesis); expiries are re-derived (at their instants, R-EXPY-2) up to ``until``; voids,
    amendments and expiration changes are clamped (R-DEL-2).
    """
    state = LedgerState(currency, chain_head=chain_start)
    entries: list[Entry] = []
    changed: dict[str, Block] = {}
    for at, command in commands:
        state = _absorb(apply(state, command, at, new_id, clamp=True), entries, changed)
    state = _absorb(expire_due(state, until), entries, changed)
    return Outcome(state, tuple(entries), tuple(changed.values()), None)


def _absorb(outcome: Outcome, entries: list[Entry], changed: dict[str, Block]) -> LedgerState:
    entries.extend(outcome.entries)
    changed.update((block.id, block) for block in outcome.changed_blocks)
    return outcome.state
