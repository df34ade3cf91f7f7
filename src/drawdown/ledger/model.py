"""The ledger as plain immutable data: credit blocks, ledger entries and the ledger state.

Invariants: every datetime is timezone-aware UTC; amounts are exact Decimals; a block's
balance never exceeds its ceiling (maximum_initial_balance minus credits moved out by
expiration changes, R-EXP-1). Metadata is a ``Metadata``: a read-only, hashable mapping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

BlockStatus = Literal["active", "pending_payment"]
BlockSource = Literal["manual", "top_up"]
EntryType = Literal[
    "increment",
    "decrement",
    "expiration_change",
    "credit_block_expiry",
    "void",
    "void_initiated",
    "amendment",
]
EntryStatus = Literal["committed", "pending"]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Metadata(Mapping[str, str]):
    """Read-only str -> str mapping; equal to any mapping with the same items, and hashable."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, str] = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._items == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Metadata({self._items!r})"


EMPTY_METADATA = Metadata()


def freeze_metadata(metadata: Mapping[str, str]) -> Metadata:
    """An immutable copy of ``metadata`` (or ``metadata`` itself if already a Metadata)."""
    # `type() is`, not isinstance: this runs for every block and entry, and an isinstance
    # check against an ABC subclass costs many times more.
    if type(metadata) is Metadata:
        return metadata
    return Metadata(metadata) if metadata else EMPTY_METADATA


def _assert_utc(*instants: datetime | None) -> None:
    for instant in instants:
        # `tzinfo is UTC` first: it is what every instant in drawdown carries, and cheap.
        assert instant is None or instant.tzinfo is UTC or instant.utcoffset() == timedelta(0), (
            instant
        )


@dataclass(frozen=True)
class Filter:
    """A block's usage scope, e.g. item_id includes (a, b). Ignored by API decrements (R-DED-1)."""

    field: str
    operator: str
    values: tuple[str, ...]

    def admits(self, item_id: str) -> bool:
        """Whether usage of ``item_id`` may draw from a block carrying this filter."""
        if self.field != "item_id":
            return True  # drawdown only ever stores item_id filters (§3.3)
        return (item_id in self.values) == (self.operator == "includes")


@dataclass(frozen=True)
class Block:
    """A credit block: a pool of credits with its own balance, expiry, cost basis and status."""

    id: str
    currency: str
    balance: Decimal
    maximum_initial_balance: Decimal
    moved_out: Decimal  # credits moved to children by expiration changes (R-EXP-1)
    voided: Decimal  # credits already voided from this block (R-VOID-1)
    effective_date: datetime
    expiry_date: datetime | None
    per_unit_cost_basis: Decimal | None
    filters: tuple[Filter, ...]
    metadata: Mapping[str, str]  # coerced to Metadata (read-only, hashable)
    status: BlockStatus
    source: BlockSource
    created_seq: int  # ledger seq of the entry that created the block: "creation order"
    created_at: datetime
    invoice_id: str | None
    top_up_id: str | None
    parent_block_id: str | None = None  # source block, for expiration-change children
    expired: Decimal = Decimal(0)  # credits its credit_block_expiry entry removed (R-VOID-1)

    def __post_init__(self) -> None:
        _assert_utc(self.effective_date, self.expiry_date, self.created_at)
        # Callers may pass a plain dict; the stored value is always an immutable Metadata.
        object.__setattr__(self, "metadata", freeze_metadata(self.metadata))

    @property
    def ceiling(self) -> Decimal:
        """Upper bound for balance after amendments and for voids (R-EXP-1)."""
        return self.maximum_initial_balance - self.moved_out

    def is_expired(self, at: datetime) -> bool:
        return self.expiry_date is not None and self.expiry_date <= at

    def is_effective(self, at: datetime) -> bool:
        return self.effective_date <= at

    def is_drawable(self, at: datetime) -> bool:
        """Decrements may take from the block at ``at`` (§4.0)."""
        return self.is_effective(at) and not self.is_expired(at) and self.status == "active"

    def admits(self, item_id: str | None) -> bool:
        """Usage of ``item_id`` may draw from this block (R-USE-5); None (an API decrement)
        ignores filters (R-DED-1), an item must pass every filter (they combine with AND)."""
        return item_id is None or all(f.admits(item_id) for f in self.filters)

    def evolve(self, **changes: object) -> Block:
        """A copy with ``changes`` applied (balance, status, ...), for the core's own updates.

        ``dataclasses.replace`` re-runs ``__init__`` and the checks above, which made it the
        largest single cost of a decrement; the values changed here are already checked
        (amounts are Decimals, instants were validated where the block was built).
        """
        copy = object.__new__(Block)
        copy.__dict__.update(self.__dict__, **changes)
        return copy


@dataclass(frozen=True)
class Entry:
    """One ledger entry; ``amount`` is never negative, the direction comes from entry_type."""

    id: str
    currency: str
    seq: int
    entry_type: EntryType
    amount: Decimal
    starting_balance: Decimal
    ending_balance: Decimal
    block_id: str
    created_at: datetime
    description: str | None
    metadata: Mapping[str, str]  # coerced to Metadata (read-only, hashable)
    void_amount: Decimal | None = None
    void_reason: str | None = None
    new_block_expiry_date: datetime | None = None
    hash: str = ""  # chain hash (ledger/chain.py); set by the writer for every entry

    @classmethod
    def restore(cls, **fields: object) -> Entry:
        """An entry whose parts were checked already: read back from storage (checked when
        it was written), or written by the core (`LedgerWriter.write`, which checks them).

        Skips ``__init__``'s checks: a ledger page restores a hundred entries, and the
        checks cost as much as reading the rows; every write builds one or more.
        """
        fields["metadata"] = freeze_metadata(fields["metadata"])  # type: ignore[arg-type]
        entry = object.__new__(cls)
        entry.__dict__.update(fields)
        return entry

    def __post_init__(self) -> None:
        _assert_utc(self.created_at, self.new_block_expiry_date)
        # Callers may pass a plain dict; the stored value is always an immutable Metadata.
        object.__setattr__(self, "metadata", freeze_metadata(self.metadata))
        assert self.amount >= 0, self


@dataclass(frozen=True)
class LedgerState:
    """What the core needs to know about one ledger (customer, currency).

    ``blocks`` may omit blocks that are expired with balance <= 0 (they never change again
    except by a void that names them); the ledger balance L is therefore carried in
    ``balance`` instead of being summed from ``blocks``.
    """

    currency: str
    blocks: Mapping[str, Block] = field(default_factory=dict)
    last_seq: int = 0
    balance: Decimal = Decimal(0)
    last_entry_at: datetime | None = None
    chain_head: str = ""  # hash of the newest entry, or the ledger's genesis (ledger/chain.py)

    def __post_init__(self) -> None:
        _assert_utc(self.last_entry_at)
        assert all(block.currency == self.currency for block in self.blocks.values())

    @classmethod
    def derived(
        cls, currency: str, blocks: Mapping[str, Block], last_seq: int, balance: Decimal,
        last_entry_at: datetime | None, chain_head: str,
    ) -> LedgerState:  # fmt: skip
        """The state the core derived from a checked one (`LedgerWriter.outcome`): its blocks
        are the start state's or the core's own, so the checks above hold already; skipping
        them keeps a command's cost independent of how many blocks the ledger has."""
        state = object.__new__(cls)
        state.__dict__.update(currency=currency, blocks=blocks, last_seq=last_seq,
                              balance=balance, last_entry_at=last_entry_at,
                              chain_head=chain_head)  # fmt: skip
        return state


def expiry_entry_id(block_id: str) -> str:
    """Deterministic id of a block's credit_block_expiry entry (a block expires at most once).

    Deriving it keeps ``expire_due`` free of id generation and lets a replay reproduce it.
    """
    number = int.from_bytes(hashlib.sha256(f"credit_block_expiry:{block_id}".encode()).digest())
    chars = []
    for _ in range(16):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)
