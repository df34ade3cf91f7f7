"""SQL for ledgers, credit blocks, ledger entries and the command log.

Blocks and entries are stored as the ledger core produced them; entries are only
ever inserted, except when a block deletion replays a ledger (spec §4.14), which
replaces that ledger's derived rows wholesale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.engine import RowMapping

from drawdown.ledger.model import Block, Entry, Filter, LedgerState
from drawdown.store.schema import (
    credit_blocks,
    customers,
    ledger_commands,
    ledger_entries,
    ledgers,
)
from drawdown.store.sqlfuncs import compare, decimal_at_least

_live_block = credit_blocks.c.deleted_at.is_(None)


def block_from_row(row: RowMapping) -> Block:
    cost_basis = row["per_unit_cost_basis"]
    return Block(
        id=row["id"],
        currency=row["currency"],
        balance=row["balance"],
        maximum_initial_balance=row["maximum_initial_balance"],
        moved_out=row["moved_out"],
        voided=row["voided"],
        effective_date=row["effective_date"],
        expiry_date=row["expiry_date"],
        per_unit_cost_basis=Decimal(cost_basis) if cost_basis is not None else None,
        filters=tuple(
            Filter(f["field"], f["operator"], tuple(f["values"])) for f in row["filters"]
        ),
        metadata=dict(row["metadata"]),
        status=row["status"],
        source=row["source"],
        created_seq=row["created_seq"],
        created_at=row["created_at"],
        invoice_id=row["invoice_id"],
        top_up_id=row["top_up_id"],
    )


def _block_values(customer_id: str, block: Block, now: datetime) -> dict[str, Any]:
    closed = block.expiry_date is not None and block.expiry_date <= now and block.balance <= 0
    return {
        "customer_id": customer_id,
        "id": block.id,
        "currency": block.currency,
        "balance": block.balance,
        "maximum_initial_balance": block.maximum_initial_balance,
        "moved_out": block.moved_out,
        "voided": block.voided,
        "effective_date": block.effective_date,
        "expiry_date": block.expiry_date,
        "per_unit_cost_basis": (
            str(block.per_unit_cost_basis) if block.per_unit_cost_basis is not None else None
        ),
        "filters": [
            {"field": f.field, "operator": f.operator, "values": list(f.values)}
            for f in block.filters
        ],
        "metadata": dict(block.metadata),
        "status": block.status,
        "source": block.source,
        "created_seq": block.created_seq,
        "created_at": block.created_at,
        "invoice_id": block.invoice_id,
        "top_up_id": block.top_up_id,
        "closed": closed,
    }


def entry_from_row(row: RowMapping) -> Entry:
    return Entry(
        id=row["id"],
        currency=row["currency"],
        seq=row["seq"],
        entry_type=row["entry_type"],
        amount=row["amount"],
        starting_balance=row["starting_balance"],
        ending_balance=row["ending_balance"],
        block_id=row["block_id"],
        created_at=row["created_at"],
        description=row["description"],
        metadata=dict(row["metadata"]),
        void_amount=row["void_amount"],
        void_reason=row["void_reason"],
        new_block_expiry_date=row["new_block_expiry_date"],
    )


def _entry_values(customer_id: str, entry: Entry) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "id": entry.id,
        "currency": entry.currency,
        "seq": entry.seq,
        "entry_type": entry.entry_type,
        "amount": entry.amount,
        "starting_balance": entry.starting_balance,
        "ending_balance": entry.ending_balance,
        "block_id": entry.block_id,
        "created_at": entry.created_at,
        "description": entry.description,
        "metadata": dict(entry.metadata),
        "void_amount": entry.void_amount,
        "void_reason": entry.void_reason,
        "new_block_expiry_date": entry.new_block_expiry_date,
    }


def ensure_ledger(conn: Connection, customer_id: str, currency: str) -> None:
    exists = conn.execute(
        select(ledgers.c.last_seq).where(
            ledgers.c.customer_id == customer_id, ledgers.c.currency == currency
        )
    ).first()
    if exists is None:
        conn.execute(
            ledgers.insert().values(
                customer_id=customer_id, currency=currency, last_seq=0, balance=Decimal(0)
            )
        )


def load_state(
    conn: Connection, customer_id: str, currency: str, block_ids: Iterable[str] = ()
) -> LedgerState:
    """The ledger head and every block the core may touch: all open ones plus `block_ids`."""
    head = (
        conn.execute(
            select(ledgers).where(
                ledgers.c.customer_id == customer_id, ledgers.c.currency == currency
            )
        )
        .mappings()
        .first()
    )
    wanted = list(block_ids)
    query = select(credit_blocks).where(
        credit_blocks.c.customer_id == customer_id,
        credit_blocks.c.currency == currency,
        _live_block,
        or_(credit_blocks.c.closed.is_(False), credit_blocks.c.id.in_(wanted)),
    )
    blocks = {row["id"]: block_from_row(row) for row in conn.execute(query).mappings()}
    if head is None:
        return LedgerState(currency, blocks, 0, Decimal(0), None)
    return LedgerState(currency, blocks, head["last_seq"], head["balance"], head["last_entry_at"])


def persist(
    conn: Connection,
    customer_id: str,
    before: LedgerState,
    after: LedgerState,
    entries: Sequence[Entry],
    changed_blocks: Sequence[Block],
    now: datetime,
) -> None:
    """Write what the core decided: new entries, new/changed blocks, the ledger head."""
    for block in changed_blocks:
        values = _block_values(customer_id, block, now)
        if block.id in before.blocks:
            conn.execute(
                update(credit_blocks)
                .where(credit_blocks.c.customer_id == customer_id, credit_blocks.c.id == block.id)
                .values(values)
            )
        else:
            conn.execute(credit_blocks.insert().values(values))
    if entries:
        conn.execute(ledger_entries.insert(), [_entry_values(customer_id, e) for e in entries])
    conn.execute(
        update(ledgers)
        .where(ledgers.c.customer_id == customer_id, ledgers.c.currency == after.currency)
        .values(last_seq=after.last_seq, balance=after.balance, last_entry_at=after.last_entry_at)
    )


def mark_closed(conn: Connection, customer_id: str, now: datetime) -> None:
    """Close expired blocks that the core left with nothing (or a deficit) to expire."""
    conn.execute(
        update(credit_blocks)
        .where(
            credit_blocks.c.customer_id == customer_id,
            credit_blocks.c.closed.is_(False),
            credit_blocks.c.expiry_date <= now,
        )
        .values(closed=True)
    )


def due_currencies(conn: Connection, customer_id: str, now: datetime) -> list[str]:
    """Ledgers of the customer holding an open block whose expiry has passed (R-TIME-1)."""
    query = (
        select(credit_blocks.c.currency)
        .where(
            credit_blocks.c.customer_id == customer_id,
            _live_block,
            credit_blocks.c.closed.is_(False),
            credit_blocks.c.expiry_date <= now,
        )
        .distinct()
    )
    return sorted(conn.execute(query).scalars())


def customers_with_due_expiries(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Live customers with a due expiry; deleted ones cannot be locked (found) by the sweep."""
    cb = credit_blocks.c
    query = (
        select(cb.customer_id)
        .join(customers, customers.c.id == cb.customer_id)
        .where(
            _live_block,
            customers.c.deleted_at.is_(None),
            cb.closed.is_(False),
            cb.expiry_date <= now,
        )
        .distinct()
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def customer_currencies(conn: Connection, customer_id: str) -> list[str]:
    query = select(ledgers.c.currency).where(ledgers.c.customer_id == customer_id)
    return sorted(conn.execute(query).scalars())


def find_block(conn: Connection, block_id: str) -> RowMapping | None:
    query = select(credit_blocks).where(credit_blocks.c.id == block_id, _live_block)
    return conn.execute(query).mappings().first()


def update_block_metadata(
    conn: Connection, customer_id: str, block_id: str, metadata: Mapping[str, str]
) -> None:
    conn.execute(
        update(credit_blocks)
        .where(credit_blocks.c.customer_id == customer_id, credit_blocks.c.id == block_id)
        .values(metadata=dict(metadata))
    )


def ledger_blocks(conn: Connection, customer_id: str, currency: str) -> list[Block]:
    query = select(credit_blocks).where(
        credit_blocks.c.customer_id == customer_id,
        credit_blocks.c.currency == currency,
        _live_block,
    )
    return [block_from_row(row) for row in conn.execute(query).mappings()]


def blocks_by_id(conn: Connection, customer_id: str, block_ids: Iterable[str]) -> dict[str, Block]:
    ids = sorted(set(block_ids))
    if not ids:
        return {}
    query = select(credit_blocks).where(
        credit_blocks.c.customer_id == customer_id, credit_blocks.c.id.in_(ids)
    )
    return {row["id"]: block_from_row(row) for row in conn.execute(query).mappings()}


def list_entries(
    conn: Connection,
    customer_id: str,
    *,
    currency: str | None,
    entry_type: str | None,
    pending: bool | None,
    now: datetime,
    minimum_amount: Decimal | None,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, int, str] | None,
    limit: int,
) -> list[Entry]:
    """Entries newest first: created_at desc, then sequence desc (R-SEQ-4), then id."""
    e, b = ledger_entries.c, credit_blocks.c
    query = select(ledger_entries).join(
        credit_blocks, and_(b.customer_id == e.customer_id, b.id == e.block_id)
    )
    query = query.where(e.customer_id == customer_id)
    if currency is not None:
        query = query.where(e.currency == currency)
    if entry_type is not None:
        query = query.where(e.entry_type == entry_type)
    if pending is not None:
        is_pending = and_(e.entry_type == "increment", b.effective_date > now)
        query = query.where(is_pending if pending else ~is_pending)
    if minimum_amount is not None:
        query = query.where(decimal_at_least(e.amount, minimum_amount, conn.dialect))
    for op, value in created_at_filters:
        query = query.where(compare(e.created_at, op, value))
    if after is not None:
        query = query.where(_before_keyset(after))
    query = query.order_by(e.created_at.desc(), e.seq.desc(), e.id.desc()).limit(limit)
    return [entry_from_row(row) for row in conn.execute(query).mappings()]


def _before_keyset(after: tuple[datetime, int, str]) -> Any:
    e = ledger_entries.c
    created_at, seq, entry_id = after
    return or_(
        e.created_at < created_at,
        and_(e.created_at == created_at, e.seq < seq),
        and_(e.created_at == created_at, e.seq == seq, e.id < entry_id),
    )


def append_command(
    conn: Connection,
    customer_id: str,
    currency: str,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> None:
    position = conn.execute(
        select(func.coalesce(func.max(ledger_commands.c.position), 0)).where(
            ledger_commands.c.customer_id == customer_id, ledger_commands.c.currency == currency
        )
    ).scalar_one()
    conn.execute(
        ledger_commands.insert().values(
            customer_id=customer_id,
            currency=currency,
            position=int(position) + 1,
            kind=kind,
            payload=dict(payload),
            at=at,
        )
    )


def load_commands(conn: Connection, customer_id: str, currency: str) -> list[RowMapping]:
    query = (
        select(ledger_commands)
        .where(ledger_commands.c.customer_id == customer_id, ledger_commands.c.currency == currency)
        .order_by(ledger_commands.c.position)
    )
    return list(conn.execute(query).mappings())


def replace_ledger(
    conn: Connection,
    customer_id: str,
    currency: str,
    *,
    keep_positions: Sequence[int],
    deleted_block_ids: Sequence[str],
    state: LedgerState,
    entries: Sequence[Entry],
    now: datetime,
) -> None:
    """After a replay: drop removed commands, rewrite the ledger's blocks and entries."""
    lc, cb = ledger_commands.c, credit_blocks.c
    conn.execute(
        delete(ledger_commands).where(
            lc.customer_id == customer_id,
            lc.currency == currency,
            lc.position.not_in(list(keep_positions)),
        )
    )
    conn.execute(
        delete(ledger_entries).where(
            ledger_entries.c.customer_id == customer_id, ledger_entries.c.currency == currency
        )
    )
    conn.execute(
        update(credit_blocks)
        .where(cb.customer_id == customer_id, cb.id.in_(list(deleted_block_ids)))
        .values(deleted_at=now)
    )
    surviving = set(state.blocks)
    existing = {
        row[0]
        for row in conn.execute(
            select(cb.id).where(cb.customer_id == customer_id, cb.currency == currency, _live_block)
        )
    }
    for stale in existing - surviving:
        conn.execute(delete(credit_blocks).where(cb.customer_id == customer_id, cb.id == stale))
    for block in state.blocks.values():
        values = _block_values(customer_id, block, now)
        values.pop("metadata")  # block metadata is live (E21) and survives the replay
        if block.id in existing:
            conn.execute(
                update(credit_blocks)
                .where(cb.customer_id == customer_id, cb.id == block.id)
                .values(values)
            )
        else:
            values["metadata"] = dict(block.metadata)
            conn.execute(credit_blocks.insert().values(values))
    if entries:
        conn.execute(ledger_entries.insert(), [_entry_values(customer_id, e) for e in entries])
    conn.execute(
        update(ledgers)
        .where(ledgers.c.customer_id == customer_id, ledgers.c.currency == currency)
        .values(last_seq=state.last_seq, balance=state.balance, last_entry_at=state.last_entry_at)
    )
