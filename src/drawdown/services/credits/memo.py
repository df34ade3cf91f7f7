"""Work done once per ledger entry, for readers that would otherwise redo it on every read.

An entry never changes once written (docs/rules.md §4: entries are only inserted; a block
deletion replaces a ledger's entries wholesale, and then every changed entry has a new
hash, ledger/chain.py). So `compute(entry)` — for the API, the entry's wire form less the
parts that do change — depends only on the pair (id, hash), and a reader that knows the
pairs of a page needs to read and decode only the entries it has not seen
(`reads.entry_page`). Each process keeps its own memo, bounded: past `size` entries the
oldest computed go first (a page asked for again is computed again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from drawdown.ledger.model import Entry, EntryType

T = TypeVar("T")
Key = tuple[str, str]  # (entry id, entry hash)


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What a page needs of an entry besides its memo: its type and block (for the live
    parts), its sort key (for the cursor)."""

    id: str
    seq: int
    created_at: datetime
    entry_type: EntryType
    block_id: str


class EntryMemo(Generic[T]):
    """`compute(entry)` once per (id, hash), with the entry's head; thread-safe (PostgreSQL
    reads run in threads): lookups take no lock, insertions and evictions take one."""

    def __init__(self, compute: Callable[[Entry], T], size: int) -> None:
        self.compute = compute
        self.size = size
        self._found: dict[Key, tuple[EntryHead, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Key) -> tuple[EntryHead, T] | None:
        return self._found.get(key)

    def add(self, entries: Iterable[Entry]) -> dict[Key, tuple[EntryHead, T]]:
        """Compute and keep each entry's memo; returns them (kept or already evicted)."""
        computed = {
            (e.id, e.hash): (EntryHead(e.id, e.seq, e.created_at, e.entry_type, e.block_id),
                             self.compute(e))
            for e in entries
        }  # fmt: skip
        with self._lock:
            found = self._found
            found.update(computed)
            while len(found) > self.size:  # insertion order: the oldest first
                del found[next(iter(found))]
        return computed

    def __len__(self) -> int:
        return len(self._found)
