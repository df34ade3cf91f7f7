"""`BatchCache`: the rows one committer batch has read or written, kept as records.

A batch decides its jobs in memory: what the whole batch needs is loaded once, in one query
per table (`store/prefetch.py`), and every job reads it from here; the store's hot-path
writes (heads, blocks, idempotency records) keep it current as they buffer their rows. So
it always equals what the database will hold once the batch's buffered writes run.

It is a *cache*, never the truth: anything it does not know is read from the database,
and it is emptied whenever a write it cannot follow runs (any Core statement, a job rolled
back), after which the batch simply reads again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from drawdown.ledger.model import Block
from drawdown.records import Customer, LedgerHead, StoredResponse

CustomerWithHeads = tuple[Customer, dict[str, LedgerHead]]
T = TypeVar("T")


@dataclass
class OpenBlocks:
    """A ledger's open blocks as far as they were read: all of them (`complete`), or the first
    ones in drawdown order — every open block whose draw key is at most `through` — plus any
    other block a write changed (issue 23: a write reads only the blocks it needs)."""

    blocks: dict[str, Block]
    complete: bool
    through: str | None = None  # draw key of the last block read in order (None: none yet)


@dataclass
class BatchCache:
    customers: dict[str, CustomerWithHeads] = field(default_factory=dict)
    external_ids: dict[str, str] = field(default_factory=dict)  # external id -> customer id
    # Open (not closed, not deleted) blocks of each ledger read, by (customer, currency).
    blocks: dict[tuple[str, str], OpenBlocks] = field(default_factory=dict)
    # Idempotency records by (scope, key); None: known not to exist.
    responses: dict[tuple[str, str], StoredResponse | None] = field(default_factory=dict)
    # Whole tables every job of a batch may read the same way (the usage catalogue), by name.
    tables: dict[str, Any] = field(default_factory=dict)

    def clear(self) -> None:
        self.customers.clear()
        self.external_ids.clear()
        self.blocks.clear()
        self.responses.clear()
        self.tables.clear()

    def table(self, name: str, load: Callable[[], T]) -> T:
        """A table read once per batch: the catalogue changes only by Core statements, which
        empty the cache, so the next job reads it again."""
        if name not in self.tables:
            self.tables[name] = load()
        found: T = self.tables[name]
        return found

    def customer(
        self, customer_id: str | None, external_id: str | None
    ) -> CustomerWithHeads | None:
        """The customer and a copy of its heads (the write path changes its own copy)."""
        if customer_id is None and external_id is not None:
            customer_id = self.external_ids.get(external_id)
        found = self.customers.get(customer_id) if customer_id is not None else None
        return None if found is None else (found[0], dict(found[1]))

    def put_customer(self, customer: Customer, heads: dict[str, LedgerHead]) -> None:
        self.customers[customer.id] = (customer, dict(heads))
        if customer.external_customer_id is not None:
            self.external_ids[customer.external_customer_id] = customer.id

    def put_head(self, customer_id: str, head: LedgerHead) -> None:
        found = self.customers.get(customer_id)
        if found is not None:
            found[1][head.currency] = head
