"""SQL for the prepaid-liability report: every entry with its block's cost basis, the
credits expiring soon, and the cached ledger balances the report reconciles with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, select

from drawdown.ledger.amounts import exact_arithmetic
from drawdown.ledger.liability import Movement
from drawdown.ledger.model import Block
from drawdown.store.ledger_tables import BLOCK_COLUMNS, block_of
from drawdown.store.prepared import Prepared
from drawdown.store.schema import credit_blocks, ledger_entries, ledgers
from drawdown.store.tx import Tx

_le, _cb = ledger_entries.c, credit_blocks.c

_MOVEMENTS = Prepared(
    lambda: select(_le.currency, _le.entry_type, _le.amount, _le.created_at,
                   _cb.per_unit_cost_basis)
    .join(credit_blocks, and_(_cb.customer_id == _le.customer_id, _cb.id == _le.block_id))
    .where(_le.created_at < bindparam("end"))
)  # fmt: skip


def movements(tx: Tx, end: datetime) -> Iterator[Movement]:
    """Every entry created before `end` (all customers), streamed in batches."""
    c = tx.codec
    for rows in tx.batches(_MOVEMENTS, {"end": c.instant(end)}, size=5000):
        for currency, entry_type, amount, created_at, cost_basis in rows:
            yield Movement(
                currency, entry_type, c.read_decimal(amount),
                c.read_instant(created_at),
                None if cost_basis is None else Decimal(cost_basis),
            )  # fmt: skip


_EXPIRING = Prepared(
    lambda: select(*(_cb[name] for name in BLOCK_COLUMNS)).where(
        _cb.closed.is_(False),
        _cb.deleted_at.is_(None),
        _cb.expiry_date > bindparam("now"),
        _cb.expiry_date <= bindparam("horizon"),
    )
)


def blocks_expiring(tx: Tx, now: datetime, horizon: datetime) -> list[Block]:
    """Open blocks of every customer whose expiry falls in (now, horizon]."""
    c = tx.codec
    rows = tx.rows(_EXPIRING, {"now": c.instant(now), "horizon": c.instant(horizon)})
    return [block_of(tx, row) for row in rows]


def ledger_totals(tx: Tx) -> dict[str, Decimal]:
    """Σ cached ledger balances per currency (exact, summed here rather than in SQL)."""
    totals: dict[str, Decimal] = {}
    with exact_arithmetic():
        for currency, balance in tx.execute(select(ledgers.c.currency, ledgers.c.balance)).all():
            totals[currency] = totals.get(currency, Decimal(0)) + balance
    return totals
