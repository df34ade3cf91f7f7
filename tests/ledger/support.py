"""Test helpers: a tiny driver that applies commands to a ledger and keeps every entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from drawdown.ledger import (
    Block,
    Command,
    Entry,
    Increment,
    LedgerState,
    Outcome,
    apply,
    expire_due,
)

D = Decimal
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def increment(
    block_id: str,
    amount: int | str,
    *,
    effective: datetime = T0,
    expiry: datetime | None = None,
    cost: str | None = None,
    **extra: object,
) -> Increment:
    return Increment(
        block_id=block_id,
        entry_id=f"inc-{block_id}",
        amount=D(amount),
        effective_date=effective,
        expiry_date=expiry,
        per_unit_cost_basis=None if cost is None else D(cost),
        **extra,  # type: ignore[arg-type]
    )


class Counter:
    """Deterministic new_id: id-1, id-2, ..."""

    def __init__(self, prefix: str = "id") -> None:
        self.prefix = prefix
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}-{self.count}"


@dataclass
class Book:
    """A ledger under test: current state, every entry written, every command accepted."""

    state: LedgerState = field(default_factory=lambda: LedgerState("credits"))
    entries: list[Entry] = field(default_factory=list)
    log: list[tuple[datetime, Command]] = field(default_factory=list)
    new_id: Counter = field(default_factory=Counter)

    def do(self, command: Command, now: datetime = T0) -> Outcome:
        outcome = apply(self.state, command, now, self.new_id)
        self._keep(outcome)
        self.log.append((now, command))
        return outcome

    def tick(self, now: datetime) -> Outcome:
        outcome = expire_due(self.state, now)
        self._keep(outcome)
        return outcome

    def _keep(self, outcome: Outcome) -> None:
        self.state = outcome.state
        self.entries.extend(outcome.entries)

    def block(self, block_id: str) -> Block:
        return self.state.blocks[block_id]

    def balances(self) -> dict[str, Decimal]:
        return {block.id: block.balance for block in self.state.blocks.values()}


def summary(entries: tuple[Entry, ...] | list[Entry]) -> list[tuple[object, ...]]:
    """(seq, type, block, amount, starting, ending) per entry, for exact comparisons."""
    return [
        (e.seq, e.entry_type, e.block_id, e.amount, e.starting_balance, e.ending_balance)
        for e in entries
    ]
