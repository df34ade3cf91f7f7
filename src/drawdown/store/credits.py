"""A customer's credit blocks read in one statement: `GET …/credits` in one round trip.

The customer with its ledger heads (to find it, and to know whether an expiry is due) and
the blocks of one ledger come back together, told apart by a leading `part` column
(`UNION ALL`): on PostgreSQL a read on the event loop is then a single round trip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, literal_column, null, select, union_all

from drawdown.ledger.model import Block
from drawdown.records import Customer, LedgerHead
from drawdown.store import customers as customer_store
from drawdown.store import ledger_tables as ledger_store
from drawdown.store.prepared import Prepared
from drawdown.store.schema import credit_blocks, customers, ledgers
from drawdown.store.tx import Tx

_cb = credit_blocks.c
_HEADS = customer_store.WITH_HEADS_COLUMNS
_BLOCKS = tuple(_cb[name] for name in ledger_store.BLOCK_COLUMNS)


def _statement(by_external_id: bool, open_only: bool) -> Any:
    ref: Any = bindparam("ref")
    who = customer_store.by_ref(None if by_external_id else ref, ref if by_external_id else None)
    heads = (
        select(literal_column("0").label("part"), *_HEADS, *(null() for _ in _BLOCKS))
        .select_from(customers.outerjoin(ledgers, ledgers.c.customer_id == customers.c.id))
        .where(who, customers.c.deleted_at.is_(None))
    )
    owner = _cb.customer_id.in_(select(customers.c.id).where(who))
    live = [owner, _cb.currency == bindparam("currency"), _cb.deleted_at.is_(None)]
    if open_only:
        live.append(_cb.closed.is_(False))
    blocks: Any = select(literal_column("1"), *(null() for _ in _HEADS), *_BLOCKS).where(
        and_(*live)
    )
    return union_all(heads, blocks)


_STATEMENTS = {
    (by_external_id, open_only): Prepared(lambda e=by_external_id, o=open_only: _statement(e, o))
    for by_external_id in (False, True)
    for open_only in (False, True)
}


def customer_and_blocks(
    tx: Tx, *, customer_id: str | None, external_id: str | None, currency: str, open_only: bool
) -> tuple[Customer, dict[str, LedgerHead], list[Block]] | None:
    """The live customer, its heads and its live blocks of `currency` (open ones only when
    `open_only`), or None if there is no such customer."""
    statement = _STATEMENTS[(customer_id is None, open_only)]
    params = {"ref": customer_id if customer_id is not None else external_id,
              "currency": currency}  # fmt: skip
    rows = tx.rows(statement, params)
    width = len(_HEADS)
    found = customer_store.with_heads_of_rows(tx, [row[1 : width + 1] for row in rows
                                                   if row[0] == 0])  # fmt: skip
    if found is None:
        return None
    blocks = [ledger_store.block_of(tx, row[width + 1 :]) for row in rows if row[0] == 1]
    return found[0], found[1], blocks
