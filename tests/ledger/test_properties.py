"""Property tests: random command sequences keep every ledger invariant, and replaying the
accepted command log from scratch reproduces exactly the same blocks and entries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.ledger import (
    BALANCE_DIRECTION,
    Activate,
    Amendment,
    Command,
    Decrement,
    ExpirationChange,
    LedgerError,
    LedgerState,
    Outcome,
    Void,
    apply,
    drawdown_order,
    expire_due,
    replay,
)

from .support import T0, Book, Counter, increment

amounts = st.integers(1, 5000).map(lambda cents: Decimal(cents) / 100)
small = st.integers(1, 1500).map(lambda cents: Decimal(cents) / 100)
hours = st.integers(-72, 400)


@dataclass(frozen=True)
class Op:
    kind: str
    advance_h: int
    amount: Decimal | None = None
    pick: int = 0
    offset_h: int = 0
    length_h: int | None = None
    cost: Decimal | None = None
    pending: bool = False


ops = st.one_of(
    st.builds(
        Op,
        st.just("inc"),
        st.integers(0, 48),
        amounts,
        offset_h=st.integers(-72, 48),
        length_h=st.none() | st.integers(1, 500),
        cost=st.none() | st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("0.25")]),
        pending=st.sampled_from([False, False, True]),
    ),
    st.builds(Op, st.just("dec"), st.integers(0, 48), small),
    st.builds(Op, st.sampled_from(["void", "amend"]), st.integers(0, 48), small, st.integers(0, 9)),
    st.builds(Op, st.just("move"), st.integers(0, 48), st.none() | small, st.integers(0, 9), hours),
    st.builds(
        Op, st.sampled_from(["activate", "tick"]), st.integers(0, 96), pick=st.integers(0, 9)
    ),
)


def command_for(op: Op, book: Book, now: datetime, serial: int) -> Command | None:
    blocks = sorted(book.state.blocks.values(), key=lambda b: b.created_seq)
    block_id = blocks[op.pick % len(blocks)].id if blocks else "missing"
    at = now + timedelta(hours=op.offset_h)
    if op.kind == "inc":
        assert op.amount is not None
        expiry = None if op.length_h is None else at + timedelta(hours=op.length_h)
        status = "pending_payment" if op.pending else "active"
        return increment(
            f"b{serial}",
            str(op.amount),
            effective=at,
            expiry=expiry,
            cost=None if op.cost is None else str(op.cost),
            status=status,
        )
    if op.kind == "dec":
        assert op.amount is not None
        return Decrement(op.amount, description="use")
    if op.kind == "void":
        assert op.amount is not None
        return Void(block_id, op.amount, void_reason="refund")
    if op.kind == "amend":
        assert op.amount is not None
        return Amendment(block_id, op.amount)
    if op.kind == "move":
        return ExpirationChange(block_id, op.amount, at, f"m{serial}")
    if op.kind == "activate":
        return Activate(block_id)
    return None


def pruned(state: LedgerState, command: Command | None, now: datetime) -> LedgerState:
    """What the store loads: no expired blocks at or below zero, unless the command names one."""
    named = getattr(command, "block_id", None)
    blocks = {
        key: block
        for key, block in state.blocks.items()
        if key == named or not (block.is_expired(now) and block.balance <= 0)
    }
    return replace(state, blocks=blocks)


class Runner:
    def __init__(self) -> None:
        self.book = Book()
        self.shadow = Book()  # same commands applied to pruned states
        self.negative_ok: set[str] = set()

    def step(self, op: Op, now: datetime, serial: int) -> None:
        command = command_for(op, self.book, now, serial)
        before = self.book.state
        try:
            outcome = self.book.tick(now) if command is None else self.book.do(command, now)
        except LedgerError:
            return
        self.check_step(before, command, outcome, now)
        self.check_shadow(command, outcome, now)

    def check_shadow(self, command: Command | None, outcome: Outcome, now: datetime) -> None:
        state = pruned(self.shadow.state, command, now)
        if command is None:
            shadow = expire_due(state, now)
        else:
            shadow = apply(state, command, now, self.shadow.new_id)
        assert shadow.entries == outcome.entries
        assert shadow.state.balance == outcome.state.balance
        blocks = dict(self.shadow.state.blocks)
        blocks.update((block.id, block) for block in shadow.changed_blocks)
        self.shadow.state = replace(shadow.state, blocks=blocks)
        assert blocks == dict(outcome.state.blocks)

    def check_step(
        self, before: LedgerState, command: Command | None, outcome: Outcome, now: datetime
    ) -> None:
        if isinstance(command, Decrement):
            check_decrement(expire_due(before, now).state, command, outcome, now)
        assert outcome.response is None or outcome.response in outcome.entries
        for block in outcome.changed_blocks:
            if block.balance >= 0 or block.id in self.negative_ok:
                continue
            last = outcome.entries[-1] if outcome.entries else None
            assert last is not None and last.block_id == block.id
            # R-DED-4 target of a decrement, or a void reaching into used credits (R-VOID-3).
            assert last.entry_type == "decrement" or (
                last.entry_type == "void" and outcome.entries[-2].entry_type == "void_initiated"
            )
            self.negative_ok.add(block.id)


def check_decrement(mid: LedgerState, command: Decrement, outcome: Outcome, now: datetime) -> None:
    entries = [e for e in outcome.entries if e.entry_type == "decrement"]
    assert sum(e.amount for e in entries) == command.amount
    drawable = drawdown_order(b for b in mid.blocks.values() if b.is_drawable(now))
    positive = [b for b in drawable if b.balance > 0]
    touched = [e.block_id for e in entries]
    for entry in entries:  # R-DED-1: only drawable blocks, or a fresh deficit block
        block = mid.blocks.get(entry.block_id)
        assert (block is None and not drawable) or (block is not None and block.is_drawable(now))
    for entry, block in zip(entries[:-1], positive, strict=False):  # R-DED-3 walk order
        assert (entry.block_id, entry.amount) == (block.id, block.balance)
    if sum(b.balance for b in positive) >= command.amount:
        assert touched == [b.id for b in positive[: len(touched)]]
        assert entries[-1].amount <= mid.blocks[touched[-1]].balance
    elif drawable:
        assert touched[-1] == drawable[-1].id  # R-DED-4


def check_ledger(book: Book) -> None:
    entries = book.entries
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    previous_end, previous_at = Decimal(0), None
    for entry in entries:
        assert entry.starting_balance == previous_end
        delta = BALANCE_DIRECTION[entry.entry_type] * entry.amount
        assert entry.ending_balance - entry.starting_balance == delta
        assert previous_at is None or entry.created_at >= previous_at
        previous_end, previous_at = entry.ending_balance, entry.created_at
    blocks = book.state.blocks.values()
    assert book.state.balance == sum(b.balance for b in blocks) == previous_end
    assert book.state.last_seq == len(entries)
    assert all(b.balance <= b.ceiling for b in blocks)
    for entry in entries:
        assert entry.amount > 0 or entry.entry_type == "void_initiated"


@settings(max_examples=400, deadline=None)
@given(st.lists(ops, min_size=3, max_size=40))
def test_random_sequences_keep_invariants_and_replay_exactly(sequence: list[Op]) -> None:
    runner, now = Runner(), T0
    for serial, op in enumerate(sequence):
        now += timedelta(hours=op.advance_h)
        runner.step(op, now, serial)
        check_ledger(runner.book)
    until = now + timedelta(days=40)
    runner.book.tick(until)
    check_ledger(runner.book)
    replayed = replay(runner.book.log, "credits", until, Counter())
    assert list(replayed.entries) == runner.book.entries
    assert {b.id: b for b in replayed.changed_blocks} == dict(runner.book.state.blocks)
    assert replayed.state.balance == runner.book.state.balance
