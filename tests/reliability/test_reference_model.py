"""Differential test: the ledger core against a small independent reference model.

The model below is written from the rules of docs/rules.md alone (R-DED-1..4 drawdown order and
deficits, R-EXPY-1..3 expiry, R-VOID-1..3 voids, R-NEG-*), with integers for time and
no code shared with `drawdown.ledger`. Random command sequences go to both; after every
command the ledger balance, every block's balance and whether a void was refused must
agree. A failing sequence is reported with its seed, so it can be replayed.

CI: 300 sequences of 40 commands. `DRAWDOWN_LONG=1`: 10,000 sequences.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from drawdown.ledger import Decrement, Increment, LedgerError, LedgerState, Void, apply, expire_due
from reliability.rel_support import scale

T0 = datetime(2026, 1, 1, tzinfo=UTC)
COMMANDS_PER_SEQUENCE = 40
COSTS = (None, Decimal(0), Decimal("0.10"), Decimal("0.25"))


# --- the reference model ------------------------------------------------------------------


@dataclass
class ModelBlock:
    id: str
    order: int  # creation order
    balance: Decimal
    ceiling: Decimal  # maximum initial balance (no amendments or moves in this model)
    effective: int  # hours after T0
    expiry: int | None
    cost: Decimal | None
    voided: Decimal = Decimal(0)
    expired: Decimal = Decimal(0)


class Model:
    def __init__(self) -> None:
        self.blocks: dict[str, ModelBlock] = {}
        self.balance = Decimal(0)
        self.now = 0

    def _drawable(self) -> list[ModelBlock]:
        now = self.now
        live = [b for b in self.blocks.values()
                if b.effective <= now and (b.expiry is None or b.expiry > now)]  # fmt: skip
        return sorted(live, key=lambda b: (b.expiry is None, b.expiry or 0, b.cost or 0,
                                           b.effective, b.order))  # fmt: skip

    def advance(self, hours: int) -> None:
        self.now += hours
        for block in self.blocks.values():
            if block.expiry is not None and block.expiry <= self.now and block.balance > 0:
                block.expired = block.balance
                self.balance -= block.balance
                block.balance = Decimal(0)

    def increment(self, block_id: str, amount: Decimal, expiry_h: int | None,
                  cost: Decimal | None) -> None:  # fmt: skip
        expiry = None if expiry_h is None else self.now + expiry_h
        self.blocks[block_id] = ModelBlock(block_id, len(self.blocks), amount, amount, self.now,
                                           expiry, cost)  # fmt: skip
        self.balance += amount

    def decrement(self, amount: Decimal) -> None:
        order = self._drawable()
        remaining = amount
        for block in order:
            if remaining == 0:
                break
            if block.balance > 0:
                taken = min(remaining, block.balance)
                block.balance -= taken
                remaining -= taken
        if remaining > 0:
            if order:
                order[-1].balance -= remaining
            else:
                deficit = ModelBlock(f"deficit-{len(self.blocks)}", len(self.blocks), -remaining,
                                     Decimal(0), self.now, None, None)  # fmt: skip
                self.blocks[deficit.id] = deficit
        self.balance -= amount

    def void(self, block_id: str, amount: Decimal) -> bool:
        """False when R-VOID-1 refuses it."""
        block = self.blocks[block_id]
        if amount > block.ceiling - block.voided - block.expired:
            return False
        block.balance -= amount
        block.voided += amount
        self.balance -= amount
        return True


# --- one random sequence on both -------------------------------------------------------------


def _amount(rng: random.Random, most: int) -> Decimal:
    return Decimal(rng.randint(1, most * 100)) / 100


def run_sequence(seed: int) -> int:
    """Drive one random sequence; returns how many commands the core accepted."""
    rng = random.Random(seed)
    model = Model()
    state = LedgerState("credits")
    counter = iter(range(10**9))

    def new_id() -> str:
        return f"core-{next(counter)}"

    accepted = 0
    increments = 0
    for step in range(COMMANDS_PER_SEQUENCE):
        kind = rng.choices(("inc", "dec", "void", "wait"), weights=(4, 5, 2, 2))[0]
        where = f"seed {seed} step {step} ({kind})"
        if kind == "wait" or (kind == "void" and increments == 0):
            model.advance(rng.randint(1, 60))
            state = expire_due(state, T0 + timedelta(hours=model.now)).state
        else:
            now = T0 + timedelta(hours=model.now)
            if kind == "inc":
                block_id = f"b{increments}"
                increments += 1
                amount = _amount(rng, 500)
                expiry_h = rng.choice((None, None, rng.randint(1, 120)))
                cost = rng.choice(COSTS)
                model.increment(block_id, amount, expiry_h, cost)
                command = Increment(
                    block_id=block_id, entry_id=f"e-{block_id}", amount=amount,
                    effective_date=now,
                    expiry_date=None if expiry_h is None else now + timedelta(hours=expiry_h),
                    per_unit_cost_basis=cost,
                )  # fmt: skip
                state = apply(state, command, now, new_id).state
            elif kind == "dec":
                amount = _amount(rng, 300)
                model.decrement(amount)
                state = apply(state, Decrement(amount=amount), now, new_id).state
            else:
                block_id = f"b{rng.randrange(increments)}"
                amount = _amount(rng, 400)
                allowed = model.void(block_id, amount)
                try:
                    state = apply(state, Void(block_id=block_id, amount=amount), now,
                                  new_id).state  # fmt: skip
                    refused = False
                except LedgerError:
                    refused = True
                assert refused == (not allowed), f"{where}: void {amount} on {block_id}: " \
                    f"core refused={refused}, model allowed={allowed}"  # fmt: skip
            accepted += 1
        _compare(model, state, where)
    return accepted


def _compare(model: Model, state: LedgerState, where: str) -> None:
    assert state.balance == model.balance, f"{where}: balance {state.balance} != {model.balance}"
    core = dict(state.blocks)
    for block_id, block in model.blocks.items():
        if block_id.startswith("deficit-"):
            continue
        mine = core.pop(block_id, None)
        if mine is None:  # the core may drop closed blocks (expired, balance <= 0)
            assert block.balance <= 0 or (block.expiry is not None
                                          and block.expiry <= model.now), where  # fmt: skip
            continue
        assert mine.balance == block.balance, f"{where}: block {block_id} balance " \
            f"{mine.balance} != model {block.balance}"  # fmt: skip
    deficits = sorted(b.balance for b in model.blocks.values() if b.id.startswith("deficit-"))
    assert sorted(b.balance for b in core.values()) == deficits, f"{where}: deficit blocks"


def test_core_agrees_with_the_reference_model() -> None:
    sequences = scale(300, 10_000)
    base = random.randrange(10**6)
    started = time.monotonic()
    commands = sum(run_sequence(base + i) for i in range(sequences))
    seconds = time.monotonic() - started
    print(f"\nreference model: {sequences} sequences (seeds {base}..{base + sequences - 1}), "
          f"{commands} commands, 0 disagreements, {seconds:.1f} s")  # fmt: skip
