"""Seeding ledgers of many open blocks (issue 23: a decrement costs the same at 10,000).

The ledger is `blocks` increments, one block each, every block expiring on a day of its own
more than a year after its increment (so none expires during a run, and drawdown order is
the order of the expiry dates). Every block holds `BLOCK_CREDITS`, so the decrements of a
run all draw from the first block and the ledger keeps all its open blocks.

Like the write path, which hands an increment none of the ledger's open blocks (it reads
only those a command draws from), the seed applies each increment to a state without
them: a ledger of 10,000 blocks seeds in a second instead of in quadratic time. The head's
next expiry is the soonest expiry seen, as the write path keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from benchmarks import seed
from drawdown import ledger
from drawdown.ledger import commands
from drawdown.ledger.model import LedgerState
from drawdown.services.commands_codec import encode_command
from drawdown.services.ids import new_id as random_id
from drawdown.store.database import Database

BLOCK_CREDITS = Decimal(1_000_000)
FIRST_EXPIRY_DAYS = 400


class BlocksSeed(seed.LedgerSeed):
    """One customer's `credits` ledger of `blocks` increments (ids: block, then entry)."""

    def __init__(self, customer_id: str, blocks: int, instant: seed.Instant, *,
                 new_id: seed.NewId = random_id) -> None:  # fmt: skip
        super().__init__(customer_id, blocks, instant, new_id=new_id)
        self.soonest: datetime | None = None

    def expiry(self, position: int) -> datetime:
        return self.instant(1) + timedelta(days=FIRST_EXPIRY_DAYS + position)

    def command(self, position: int) -> tuple[commands.Command, str, dict[str, Any]]:
        block_id, entry_id = self.new_id(), self.new_id()
        increment = commands.Increment(block_id=block_id, entry_id=entry_id,
                                       amount=BLOCK_CREDITS,
                                       effective_date=self.instant(position),
                                       expiry_date=self.expiry(position))  # fmt: skip
        return (increment, *encode_command(increment))

    def _carry(self, outcome: ledger.Outcome) -> LedgerState:
        for block in outcome.changed_blocks:
            expiry = block.expiry_date
            if expiry is not None and (self.soonest is None or expiry < self.soonest):
                self.soonest = expiry
        state = outcome.state
        return LedgerState.derived(state.currency, {}, state.last_seq, state.balance,
                                   state.last_entry_at, state.chain_head)  # fmt: skip

    def _upcoming(self, now: datetime) -> datetime | None:
        return self.soonest if self.soonest is not None and self.soonest > now else None


def seed_blocks(
    dbs: Sequence[Database], customer_id: str, blocks: int, instant: seed.Instant, *,
    new_id: seed.NewId = random_id,
) -> seed.Seeded:  # fmt: skip
    """Write the ledger `BlocksSeed` describes to every database."""
    return seed.write_seed(dbs, BlocksSeed(customer_id, blocks, instant, new_id=new_id))
