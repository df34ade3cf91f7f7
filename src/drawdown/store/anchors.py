"""What `drawdown verify --anchor` reads beyond a ledger's own rows: its deleted blocks.

Deleting a credit block (R-DEL-1) re-derives the ledger and rewrites its entries, so a
ledger may legitimately leave the history an anchor recorded; the block stays, marked
`deleted_at`, and how many a ledger has is what tells such a rewrite apart.
"""

from __future__ import annotations

from sqlalchemy import func, select

from drawdown.store.schema import credit_blocks
from drawdown.store.tx import Tx

_cb = credit_blocks.c


def deleted_block_counts(tx: Tx, customer_id: str | None) -> dict[tuple[str, str], int]:
    """{(customer id, currency): deleted blocks} of every ledger (of one customer) with any."""
    query = (
        select(_cb.customer_id, _cb.currency, func.count())
        .where(_cb.deleted_at.is_not(None))
        .group_by(_cb.customer_id, _cb.currency)
    )
    if customer_id is not None:
        query = query.where(_cb.customer_id == customer_id)
    return {(row[0], row[1]): int(row[2]) for row in tx.execute(query)}
