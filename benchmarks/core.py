"""The pure core in process: single-block decrements per second through `ledger.apply`.

Baseline: building the state a write hands the core (one `Block` and the `LedgerState`
around it, as the write path builds them from the ledger head and its open blocks).
Ids come from a counter, so only the core is timed (the server draws random ids).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from drawdown import ledger
from drawdown.ledger import chain, commands
from drawdown.ledger.model import Block, LedgerState

CUSTOMER, CURRENCY = "benchcustomer000", "credits"
BATCH = 1000  # calls between clock reads


def rate(seconds: float, step: Callable[[], object]) -> float:
    """Calls of `step` per second, over about `seconds`."""
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(BATCH):
            step()
        calls += BATCH
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls / elapsed


def _state(now: datetime) -> LedgerState:
    block = Block(
        id="block00000000000", currency=CURRENCY, balance=Decimal(10**12),
        maximum_initial_balance=Decimal(10**12), moved_out=Decimal(0), voided=Decimal(0),
        effective_date=now - timedelta(days=1), expiry_date=None, per_unit_cost_basis=None,
        filters=(), metadata={}, status="active", source="manual", created_seq=1,
        created_at=now - timedelta(days=1), invoice_id=None, top_up_id=None,
    )  # fmt: skip
    return LedgerState(CURRENCY, {block.id: block}, 1, block.balance, block.created_at,
                       chain.genesis(CUSTOMER, CURRENCY))  # fmt: skip


def state_building_rate(seconds: float) -> float:
    now = datetime.now(UTC)
    return rate(seconds, lambda: _state(now))


def decrement_rate(seconds: float) -> float:
    now = datetime.now(UTC)
    counter = itertools.count()
    state = _state(now)
    decrement = commands.Decrement(amount=Decimal(1))

    def new_id() -> str:
        return f"e{next(counter):015d}"

    def step() -> None:
        nonlocal state
        state = ledger.apply(state, decrement, now, new_id).state

    return rate(seconds, step)
