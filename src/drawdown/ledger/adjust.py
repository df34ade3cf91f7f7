"""Commands that name an existing block: expiration change, void, amendment, activation.

Owns R-EXP-*, R-VOID-*, R-AMD-* and R-INV-5. Each handler checks every rule before its first
write; in replay mode (``ctx.clamp``, R-DEL-2) it clamps the amount to what is allowed at that
point and returns None (writes nothing) when that is zero or the block no longer exists.
"""

from __future__ import annotations

from decimal import Decimal

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.commands import Activate, Amendment, ExpirationChange, Void
from drawdown.ledger.errors import (
    AmendmentExceedsCeiling,
    AmendmentOnExpiredBlock,
    ExpirationChangeExceedsBalance,
    LedgerError,
    NotPendingPayment,
    SourceBlockExpired,
    TargetExpiryNotAfterEffective,
    VoidExceedsBlock,
)
from drawdown.ledger.model import EMPTY_METADATA, Block, Entry
from drawdown.ledger.writer import Context, EntryText, LedgerWriter, named_block, require_positive

_ZERO = Decimal(0)


# --- expiration change (R-EXP-*) ------------------------------------------------------------


def expiration_change(
    writer: LedgerWriter, command: ExpirationChange, ctx: Context
) -> Entry | None:
    source = named_block(writer, command.block_id, ctx)
    if source is None:
        return None
    if command.amount is not None:
        require_positive(command.amount)
    if source.is_expired(ctx.now):
        if ctx.clamp:
            return None
        raise SourceBlockExpired("block_id", "the source credit block has already expired")
    if command.target_expiry_date <= source.effective_date:
        raise TargetExpiryNotAfterEffective(
            "target_expiry_date", "must be after the source block's effective_date"
        )
    amount = _movable_amount(source, command.amount, ctx.clamp)
    if amount is None:
        return None
    return _move(writer, source, amount, command, ctx)


def _movable_amount(source: Block, requested: Decimal | None, clamp: bool) -> Decimal | None:
    amount = source.balance if requested is None else requested
    if clamp:
        amount = min(amount, source.balance)
        return amount if amount > 0 else None
    if source.balance <= 0:
        raise ExpirationChangeExceedsBalance("amount", "the source credit block has no credits")
    if amount > source.balance:
        raise ExpirationChangeExceedsBalance(
            "amount", f"exceeds the source block balance {format_decimal(source.balance)}"
        )
    return amount


def _move(
    writer: LedgerWriter, source: Block, amount: Decimal, command: ExpirationChange, ctx: Context
) -> Entry:
    assert command.new_block_id not in writer.blocks, "block ids are unique"
    entry = writer.write(
        "expiration_change",
        source,
        amount,
        entry_id=ctx.new_id(),
        at=ctx.now,
        text=EntryText(command.description, command.metadata),
        new_block_expiry_date=command.target_expiry_date,
    )
    writer.put(source.evolve(balance=source.balance - amount, moved_out=source.moved_out + amount))
    writer.put(_child(source, amount, command, entry))
    writer.expire_due(ctx.now)  # R-EXP-6: a target at or before now expires right away
    return entry


def _child(source: Block, amount: Decimal, command: ExpirationChange, entry: Entry) -> Block:
    """R-EXP-1: the new block inherits dates, price, filters, status and the purchase links."""
    return source.evolve(
        id=command.new_block_id,
        balance=amount,
        maximum_initial_balance=amount,
        moved_out=_ZERO,
        voided=_ZERO,
        expired=_ZERO,
        expiry_date=command.target_expiry_date,
        metadata=EMPTY_METADATA,
        source="manual",
        created_seq=entry.seq,
        created_at=entry.created_at,
        parent_block_id=source.id,
    )


# --- void (R-VOID-*) ------------------------------------------------------------------------


def void(writer: LedgerWriter, command: Void, ctx: Context) -> Entry | None:
    require_positive(command.amount)
    block = named_block(writer, command.block_id, ctx)
    if block is None:
        return None
    amount = _voidable_amount(block, command.amount, ctx.clamp)
    if amount is None:
        return None
    text = EntryText(command.description, command.metadata)
    if amount > block.balance:  # R-VOID-3: the void reaches into credits already used
        writer.write(
            "void_initiated",
            block,
            max(block.balance, _ZERO),
            entry_id=ctx.new_id(),
            at=ctx.now,
            text=text,
            void_amount=amount,
            void_reason=command.void_reason,
            new_block_expiry_date=ctx.now,
        )
    entry = writer.write(
        "void",
        block,
        amount,
        entry_id=ctx.new_id(),
        at=ctx.now,
        text=text,
        void_amount=amount,
        void_reason=command.void_reason,
    )
    writer.put(block.evolve(balance=block.balance - amount, voided=block.voided + amount))
    return entry


def _voidable_amount(block: Block, requested: Decimal, clamp: bool) -> Decimal | None:
    # R-VOID-1: A <= C - V - X. Credits that expired unused were never the customer's to
    # consume; voiding them too would charge the customer for them twice.
    limit = block.ceiling - block.voided - block.expired
    message = f"exceeds the credits that can still be voided ({format_decimal(limit)})"
    return _within(requested, limit, clamp, VoidExceedsBlock("amount", message))


def _within(requested: Decimal, limit: Decimal, clamp: bool, error: LedgerError) -> Decimal | None:
    """`requested` if it fits under `limit`; in replay (clamp) as much as fits, None if nothing."""
    if clamp:
        amount = min(requested, limit)
        return amount if amount > 0 else None
    if requested > limit:
        raise error
    return requested


# --- amendment (R-AMD-*) --------------------------------------------------------------------


def amendment(writer: LedgerWriter, command: Amendment, ctx: Context) -> Entry | None:
    require_positive(command.amount)
    block = named_block(writer, command.block_id, ctx)
    if block is None:
        return None
    if block.is_expired(ctx.now):
        if ctx.clamp:
            return None
        raise AmendmentOnExpiredBlock("block_id", "an expired credit block cannot be amended")
    amount = _amendable_amount(block, command.amount, ctx.clamp)
    if amount is None:
        return None
    text = EntryText(command.description, command.metadata)
    entry = writer.write("amendment", block, amount, entry_id=ctx.new_id(), at=ctx.now, text=text)
    writer.put(block.evolve(balance=block.balance + amount))
    return entry


def _amendable_amount(block: Block, requested: Decimal, clamp: bool) -> Decimal | None:
    room = block.ceiling - block.balance  # R-AMD-2
    message = f"would raise the block balance above its ceiling ({format_decimal(room)} left)"
    return _within(requested, room, clamp, AmendmentExceedsCeiling("amount", message))


# --- activation (R-INV-5) -------------------------------------------------------------------


def activate(writer: LedgerWriter, command: Activate, ctx: Context) -> None:
    block = named_block(writer, command.block_id, ctx)
    if block is None:
        return None
    if block.status != "pending_payment":
        if ctx.clamp:
            return
        raise NotPendingPayment("block_id", "the credit block is not pending payment")
    writer.put(block.evolve(status="active"))  # R-BAL-6: status only, no entry
