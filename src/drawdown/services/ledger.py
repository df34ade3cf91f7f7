"""Credit ledger use cases: create entries, list entries and blocks, block by id (§2.2–2.5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from drawdown.ledger import drawdown_order, entry_status
from drawdown.ledger.dates import resolve_bounds
from drawdown.ledger.model import Block, Entry
from drawdown.services import metadata as meta
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import iso_code
from drawdown.services.customers import CustomerRef, find
from drawdown.services.entry_requests import ledger_currency
from drawdown.services.errors import ResourceNotFound
from drawdown.services.purchases import PLANNERS
from drawdown.services.write_path import customer_transaction, run_command
from drawdown.store import ledger as store
from drawdown.store.engine import read_transaction, write_transaction
from drawdown.store.sqlfuncs import compare


@dataclass(frozen=True)
class EntryView:
    """An entry with what its wire form needs: its block, customer and derived status."""

    entry: Entry
    block: Block
    customer: RowMapping
    status: str


def create_entry(ctx: ServiceContext, ref: CustomerRef, fields: Mapping[str, Any]) -> EntryView:
    """Write one ledger entry request; returns the entry the spec says to return (§2.3)."""
    entry_type = fields["entry_type"]
    with customer_transaction(ctx, ref) as tx:
        planned = PLANNERS[entry_type](tx, fields)
        outcome = run_command(tx, planned.currency, planned.command, block_ids=planned.block_ids)
        assert outcome.response is not None
        entry = outcome.response
        block = outcome.state.blocks.get(entry.block_id) or _block_after(
            tx.conn, tx.customer_id, entry.block_id
        )
        return EntryView(entry, block, tx.customer, entry_status(entry, block, tx.now))


def _block_after(conn: Connection, customer_id: str, block_id: str) -> Block:
    return store.blocks_by_id(conn, customer_id, [block_id])[block_id]


def catch_up_if_due(ctx: ServiceContext, ref: CustomerRef) -> RowMapping:
    """R-TIME-1 for reads: materialize due expiries first, in a write only when needed."""
    now = ctx.now()
    with read_transaction(ctx.engine) as conn:
        customer = find(conn, ref)
        due = store.due_currencies(conn, customer["id"], now)
    if due:
        with customer_transaction(ctx, CustomerRef(id=customer["id"])) as tx:
            customer = tx.customer
    return customer


@dataclass(frozen=True)
class EntryQuery:
    currency: str | None
    entry_type: str | None
    entry_status: str | None
    minimum_amount: Decimal | None
    created_at: Sequence[tuple[str, str]]
    after: tuple[datetime, int, str] | None
    limit: int


def list_entries(ctx: ServiceContext, ref: CustomerRef, query: EntryQuery) -> list[EntryView]:
    customer = catch_up_if_due(ctx, ref)
    now = ctx.now()
    created = resolve_bounds(query.created_at, customer["timezone"], field="created_at")
    currency = _listing_currency(customer, query.currency)
    with read_transaction(ctx.engine) as conn:
        entries = store.list_entries(
            conn,
            customer["id"],
            currency=currency,
            entry_type=query.entry_type,
            pending=None if query.entry_status is None else query.entry_status == "pending",
            now=now,
            minimum_amount=query.minimum_amount,
            created_at_filters=created,
            after=query.after,
            limit=query.limit,
        )
        blocks = store.blocks_by_id(conn, customer["id"], [e.block_id for e in entries])
    return [
        EntryView(e, blocks[e.block_id], customer, entry_status(e, blocks[e.block_id], now))
        for e in entries
    ]


def _listing_currency(customer: RowMapping, value: str | None) -> str | None:
    """For listing, a real currency that is not the customer's simply matches nothing (R-CUR-2)."""
    if value is None:
        return None
    code = iso_code(value)
    return code if code is not None else value


@dataclass(frozen=True)
class BlockQuery:
    currency: str | None
    include_all_blocks: bool
    effective_date: Sequence[tuple[str, str]]


def list_blocks(ctx: ServiceContext, ref: CustomerRef, query: BlockQuery) -> list[Block]:
    """The ledger's blocks in drawdown order (Q15), filtered per R-LIST-1 and effective_date."""
    customer = catch_up_if_due(ctx, ref)
    now = ctx.now()
    bounds = resolve_bounds(query.effective_date, customer["timezone"], field="effective_date")
    currency = _listing_currency(customer, query.currency) or "credits"
    with read_transaction(ctx.engine) as conn:
        blocks = store.ledger_blocks(conn, customer["id"], currency)
    shown = [b for b in blocks if query.include_all_blocks or _listed_by_default(b, now)]
    shown = [b for b in shown if all(compare(b.effective_date, op, v) for op, v in bounds)]
    return drawdown_order(shown)


def _listed_by_default(block: Block, now: datetime) -> bool:
    if block.balance < 0:
        return True
    return block.balance != 0 and not block.is_expired(now)


def _block_customer(conn: Connection, block_id: str) -> tuple[RowMapping, RowMapping]:
    row = store.find_block(conn, block_id)
    if row is None:
        raise ResourceNotFound("CreditBlock", block_id)
    try:
        customer = find(conn, CustomerRef(id=row["customer_id"]))
    except ResourceNotFound:
        raise ResourceNotFound("CreditBlock", block_id) from None
    return row, customer


def get_block(ctx: ServiceContext, block_id: str) -> Block:
    with read_transaction(ctx.engine) as conn:
        _, customer = _block_customer(conn, block_id)
    catch_up_if_due(ctx, CustomerRef(id=customer["id"]))
    with read_transaction(ctx.engine) as conn:
        row, _ = _block_customer(conn, block_id)
        return store.block_from_row(row)


def update_block_metadata(ctx: ServiceContext, block_id: str, fields: Mapping[str, Any]) -> Block:
    """E21: merge/remove/clear the block's metadata (§1.6); other keys are ignored."""
    with read_transaction(ctx.engine) as conn:
        _, customer = _block_customer(conn, block_id)
    with customer_transaction(ctx, CustomerRef(id=customer["id"])) as tx:
        row, _ = _block_customer(tx.conn, block_id)
        if "metadata" in fields:
            merged = meta.updated(row["metadata"], fields["metadata"], ctx.settings)
            store.update_block_metadata(tx.conn, tx.customer_id, block_id, merged)
        row, _ = _block_customer(tx.conn, block_id)
        return store.block_from_row(row)


def customer_of_block(ctx: ServiceContext, block_id: str) -> RowMapping:
    with read_transaction(ctx.engine) as conn:
        return _block_customer(conn, block_id)[1]


def sweep_expiries(ctx: ServiceContext, batch: int = 500) -> int:
    """`drawdown expire`: materialize due expiries of every customer; returns customers swept."""
    swept = 0
    while True:
        with write_transaction(ctx.engine) as conn:
            due = store.customers_with_due_expiries(conn, ctx.now(), batch)
        for customer_id in due:
            with customer_transaction(ctx, CustomerRef(id=customer_id)):
                swept += 1
        if len(due) < batch:
            return swept


__all__ = ["ledger_currency"]
