"""Commands: the operations a ledger accepts, as plain immutable data.

Ids and instants are part of the command (never generated inside the core), so a command log
replays to the same blocks and entries (R-DEL-2). Dates are already resolved to UTC instants
and amounts already parsed with ``to_decimal``; the rules themselves are checked by ``apply``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from drawdown.ledger.model import (
    EMPTY_METADATA,
    BlockSource,
    BlockStatus,
    Filter,
    freeze_metadata,
)


class _FrozenMetadata:
    """Commands accept a plain dict for ``metadata`` and keep an immutable ``Metadata``."""

    metadata: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", freeze_metadata(self.metadata))


@dataclass(frozen=True)
class Increment(_FrozenMetadata):
    """Create one block and its increment entry (R-INC-*)."""

    block_id: str
    entry_id: str
    amount: Decimal
    effective_date: datetime
    expiry_date: datetime | None = None
    per_unit_cost_basis: Decimal | None = None
    filters: tuple[Filter, ...] = ()
    metadata: Mapping[str, str] = EMPTY_METADATA
    description: str | None = None
    status: BlockStatus = "active"
    source: BlockSource = "manual"
    invoice_id: str | None = None
    top_up_id: str | None = None


@dataclass(frozen=True)
class Decrement(_FrozenMetadata):
    """Take ``amount`` from drawable blocks in drawdown order (R-DED-*).

    ``item_id`` is set for usage deductions: only blocks whose filters admit the item are
    drawn (or charged the uncovered rest); None, an API decrement, ignores filters.
    ``deficit_block_id`` is the id a deficit block gets if this decrement opens one (R-DED-4):
    later commands may name that block (an amendment repays it), so a replay must give it
    the same id. None (commands logged before it existed) draws a fresh id.
    """

    amount: Decimal
    description: str | None = None
    metadata: Mapping[str, str] = EMPTY_METADATA
    item_id: str | None = None
    deficit_block_id: str | None = None


@dataclass(frozen=True)
class ExpirationChange(_FrozenMetadata):
    """Move credits of ``block_id`` to a new block expiring at the target (R-EXP-*).

    ``amount`` None means the source's whole balance at the time of application.
    """

    block_id: str
    amount: Decimal | None
    target_expiry_date: datetime
    new_block_id: str
    description: str | None = None
    metadata: Mapping[str, str] = EMPTY_METADATA


@dataclass(frozen=True)
class Void(_FrozenMetadata):
    """Remove ``amount`` credits of a block, possibly reaching into used credits (R-VOID-*)."""

    block_id: str
    amount: Decimal
    void_reason: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = EMPTY_METADATA


@dataclass(frozen=True)
class Amendment(_FrozenMetadata):
    """Return ``amount`` credits to a block, up to its ceiling (R-AMD-*)."""

    block_id: str
    amount: Decimal
    description: str | None = None
    metadata: Mapping[str, str] = EMPTY_METADATA


@dataclass(frozen=True)
class Activate:
    """pending_payment -> active once the block's invoice is paid (R-INV-5); writes no entry."""

    block_id: str


Command = Increment | Decrement | ExpirationChange | Void | Amendment | Activate
