"""Turning a validated ledger-entry request into a ledger command (docs/rules.md §3.5, R-CUR-*).

This is where request values meet the customer: dates resolve in the customer's
timezone, `currency` picks the ledger, and ids for new blocks are drawn. Each planner takes
its shape's model from `services/entry_input.py`, so its fields are checked by mypy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drawdown.ledger import commands, find_block_by_expiry
from drawdown.ledger.dates import resolve_instant
from drawdown.ledger.errors import BlockInOtherLedger
from drawdown.ledger.model import Filter
from drawdown.services import metadata as meta
from drawdown.services.currencies import ledger_currency
from drawdown.services.entry_input import (
    AmendmentRequest,
    DecrementRequest,
    EntryCommon,
    ExpirationChangeRequest,
    IncrementRequest,
    VoidRequest,
)
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import CustomerWrite
from drawdown.store import ledger_tables as store


@dataclass(frozen=True)
class Planned:
    currency: str
    command: commands.Command
    block_ids: tuple[str, ...] = ()


def instant(write: CustomerWrite, value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    return resolve_instant(value, write.customer.timezone, field=field)


def common(write: CustomerWrite, request: EntryCommon) -> tuple[str | None, dict[str, str]]:
    description = request.description
    limit = write.ctx.settings.description_length_max
    if description is not None and len(description) > limit:
        raise InvalidField("description", f"must be at most {limit} characters")
    meta.validate(request.metadata, write.ctx.settings)
    return description, meta.on_create(request.metadata)


def require_block_room(write: CustomerWrite, currency: str) -> None:
    """A limit on open blocks per ledger: what needs all of them (balances for top-ups and
    alerts, expiries) reads them all."""
    limit = write.ctx.settings.blocks_per_ledger_max
    if write.open_block_count(currency) >= limit:
        raise ConstraintViolation(
            None, f"this ledger already has {limit} open credit blocks, the most allowed"
        )


def plan_increment(write: CustomerWrite, request: IncrementRequest) -> Planned:
    description, metadata = common(write, request)
    filters = tuple(Filter(f.field, f.operator, tuple(f.values)) for f in request.filters or ())
    cost_basis = request.per_unit_cost_basis
    if cost_basis is not None and cost_basis < 0:
        raise InvalidField("per_unit_cost_basis", "must be greater than or equal to 0")
    command = commands.Increment(
        block_id=write.ctx.new_id(),
        entry_id=write.ctx.new_id(),
        amount=request.amount,
        effective_date=instant(write, request.effective_date, "effective_date") or write.now,
        expiry_date=instant(write, request.expiry_date, "expiry_date"),
        per_unit_cost_basis=cost_basis,
        filters=filters,
        metadata=metadata,
        description=description,
        status="active",
        source="manual",
        invoice_id=None,
        top_up_id=None,
    )
    currency = ledger_currency(write.customer, request.currency)
    require_block_room(write, currency)
    return Planned(currency, command)


def plan_decrement(write: CustomerWrite, request: DecrementRequest) -> Planned:
    description, metadata = common(write, request)
    command = commands.Decrement(
        amount=request.amount,
        description=description,
        metadata=metadata,
        deficit_block_id=write.ctx.new_id(),
    )
    return Planned(ledger_currency(write.customer, request.currency), command)


def _block_ledger(write: CustomerWrite, block_id: str, currency: str | None) -> str:
    """R-CUR-1/R-CUR-4: a block's own ledger, which an explicit currency must match."""
    block = store.block_by_id(write.tx, write.customer_id, block_id)
    if block is None:
        raise ResourceNotFound("CreditBlock", block_id)
    if currency is not None and ledger_currency(write.customer, currency) != block.currency:
        raise BlockInOtherLedger(
            "block_id", f"credit block {block_id} belongs to the {block.currency} ledger"
        )
    return block.currency


def plan_void(write: CustomerWrite, request: VoidRequest) -> Planned:
    description, metadata = common(write, request)
    block_id = request.block_id
    currency = _block_ledger(write, block_id, request.currency)
    command = commands.Void(
        block_id=block_id,
        amount=request.amount,
        void_reason=request.void_reason,
        description=description,
        metadata=metadata,
    )
    return Planned(currency, command, (block_id,))


def plan_amendment(write: CustomerWrite, request: AmendmentRequest) -> Planned:
    description, metadata = common(write, request)
    block_id = request.block_id
    currency = _block_ledger(write, block_id, request.currency)
    command = commands.Amendment(
        block_id=block_id, amount=request.amount, description=description, metadata=metadata
    )
    return Planned(currency, command, (block_id,))


def plan_expiration_change(write: CustomerWrite, request: ExpirationChangeRequest) -> Planned:
    description, metadata = common(write, request)
    target = instant(write, request.target_expiry_date, "target_expiry_date")
    assert target is not None
    block_id = request.block_id
    if block_id is not None:
        currency = _block_ledger(write, block_id, request.currency)
    else:
        block_id, currency = _block_by_expiry(write, request)
    require_block_room(write, currency)
    command = commands.ExpirationChange(
        block_id=block_id,
        amount=request.amount,
        target_expiry_date=target,
        new_block_id=write.ctx.new_id(),
        description=description,
        metadata=metadata,
    )
    return Planned(currency, command, (block_id,))


def _block_by_expiry(write: CustomerWrite, request: ExpirationChangeRequest) -> tuple[str, str]:
    expiry = instant(write, request.expiry_date, "expiry_date")
    if expiry is None:
        raise InvalidField("block_id", "either block_id or expiry_date is required")
    currency = ledger_currency(write.customer, request.currency)
    return find_block_by_expiry(write.state(currency), expiry).id, currency
