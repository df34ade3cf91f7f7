"""The scratchpad one ``apply`` call writes into, and the ``Outcome`` it produces.

It is the only place that numbers entries and moves the ledger balance, so R-BAL-1..3 and
R-SEQ-1..3 hold by construction: each entry starts at the previous ending balance, its delta
follows R-BAL-3 from ``entry_type`` and ``amount``, sequence numbers are consecutive and
``created_at`` never goes backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from drawdown.ledger import chain
from drawdown.ledger.errors import AmountNotPositive, BlockNotFound
from drawdown.ledger.model import (
    EMPTY_METADATA,
    Block,
    Entry,
    EntryType,
    LedgerState,
    expiry_entry_id,
)
from drawdown.ledger.ordering import expiry_key

NewId = Callable[[], str]
_ZERO = Decimal(0)

# R-BAL-3: sign of (ending_balance - starting_balance) relative to the entry amount.
BALANCE_DIRECTION: dict[EntryType, int] = {
    "increment": 1,
    "decrement": -1,
    "expiration_change": 0,
    "credit_block_expiry": -1,
    "void_initiated": 0,
    "void": -1,
    "amendment": 1,
}


@dataclass(frozen=True)
class Outcome:
    """Result of one core call: the new state, the entries written (in sequence order), the
    blocks created or modified (final versions, each once) and the entry the API returns."""

    state: LedgerState
    entries: tuple[Entry, ...]
    changed_blocks: tuple[Block, ...]
    response: Entry | None


@dataclass(frozen=True)
class EntryText:
    """The caller-supplied parts of an entry, shared by all entries of one request (R-DED-5)."""

    description: str | None = None
    metadata: Mapping[str, str] = EMPTY_METADATA


@dataclass(frozen=True)
class Context:
    """The arguments of one ``apply`` call that every rule may need."""

    now: datetime
    new_id: NewId
    clamp: bool  # replay mode (R-DEL-2): clamp or skip instead of raising


def require_positive(amount: Decimal) -> None:
    if amount <= 0:
        raise AmountNotPositive("amount", "must be greater than 0")


class LedgerWriter:
    """Mutable working copy of a ledger state during one command; never escapes the engine."""

    def __init__(self, state: LedgerState) -> None:
        self._start = state
        self.currency = state.currency
        self.blocks: dict[str, Block] = dict(state.blocks)
        self.seq = state.last_seq
        self.balance = state.balance
        self.last_entry_at = state.last_entry_at
        self.chain_head = state.chain_head
        self.entries: list[Entry] = []
        self._changed: dict[str, None] = {}  # insertion-ordered set of changed block ids

    @property
    def next_seq(self) -> int:
        return self.seq + 1

    def stamp(self, at: datetime) -> datetime:
        """``at``, but never before the previous entry (R-SEQ-3, even if a clock steps back)."""
        if self.last_entry_at is None:
            return at
        return max(at, self.last_entry_at)

    def put(self, block: Block) -> None:
        self.blocks[block.id] = block
        self._changed[block.id] = None

    def write(
        self,
        entry_type: EntryType,
        block: Block,
        amount: Decimal,
        *,
        entry_id: str,
        at: datetime,
        text: EntryText = EntryText(),
        void_amount: Decimal | None = None,
        void_reason: str | None = None,
        new_block_expiry_date: datetime | None = None,
    ) -> Entry:
        """Append one entry on ``block``; the caller updates the block itself."""
        seq, created_at = self.next_seq, self.stamp(at)
        ending_balance = self.balance + BALANCE_DIRECTION[entry_type] * amount
        digest = chain.digest(
            self.chain_head, entry_id=entry_id, currency=self.currency, seq=seq,
            entry_type=entry_type, amount=amount, starting_balance=self.balance,
            ending_balance=ending_balance, block_id=block.id, created_at=created_at,
            description=text.description, metadata=text.metadata, void_amount=void_amount,
            void_reason=void_reason, new_block_expiry_date=new_block_expiry_date,
        )  # fmt: skip
        assert amount >= 0 and created_at.tzinfo is not None, (amount, created_at)
        # Checked here and where its parts were (amounts, instants), so built without
        # `Entry.__init__`'s checks: this runs for every entry the core writes.
        entry = Entry.restore(
            id=entry_id,
            currency=self.currency,
            seq=seq,
            entry_type=entry_type,
            amount=amount,
            starting_balance=self.balance,
            ending_balance=ending_balance,
            block_id=block.id,
            created_at=created_at,
            description=text.description,
            metadata=text.metadata,
            void_amount=void_amount,
            void_reason=void_reason,
            new_block_expiry_date=new_block_expiry_date,
            hash=digest,
        )
        self.seq, self.balance, self.last_entry_at, self.chain_head = (
            seq,
            ending_balance,
            created_at,
            digest,
        )
        self.entries.append(entry)
        return entry

    def expire_due(self, now: datetime) -> None:
        """Write a credit_block_expiry entry for every block due at ``now`` (R-EXPY-1..4)."""
        # R-EXPY-3: blocks at or below zero keep their balance; R-EXPY-4: any status expires.
        due = [b for b in self.blocks.values() if b.is_expired(now) and b.balance > 0]
        for block in sorted(due, key=expiry_key):
            assert block.expiry_date is not None
            self.write(
                "credit_block_expiry",
                block,
                block.balance,
                entry_id=expiry_entry_id(block.id),
                at=block.expiry_date,  # R-EXPY-2: stamped at the expiry, not when processed
            )
            self.put(block.evolve(balance=_ZERO, expired=block.expired + block.balance))

    def outcome(self, response: Entry | None) -> Outcome:
        changed = tuple(self.blocks[block_id] for block_id in self._changed)
        self._assert_balanced(changed)
        state = LedgerState.derived(self.currency, MappingProxyType(self.blocks), self.seq,
                                    self.balance, self.last_entry_at, self.chain_head)  # fmt: skip
        return Outcome(state, tuple(self.entries), changed, response)

    def _assert_balanced(self, changed: tuple[Block, ...]) -> None:
        # L moved by exactly as much as the block balances did (R-BAL-4 without a full scan).
        before = self._start.blocks
        moved = sum(
            (block.balance - (before[block.id].balance if block.id in before else 0))
            for block in changed
        )
        assert moved == self.balance - self._start.balance, (moved, self.balance)


def named_block(writer: LedgerWriter, block_id: str, ctx: Context) -> Block | None:
    """The block a command names; in replay mode None (skip the command) if it no longer
    exists, e.g. a deficit block whose id was regenerated or a child whose move was skipped."""
    block = writer.blocks.get(block_id)
    if block is None and not ctx.clamp:
        raise BlockNotFound(
            "block_id", f"Could not find a resource of type CreditBlock with identifier: {block_id}"
        )
    return block
