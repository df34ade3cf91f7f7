"""What a committer batch reads before its jobs run: one query per table for all of them.

The customers the batch's jobs name and their ledger heads (row-locked in id order on
PostgreSQL), the open blocks of those ledgers, and the batch's idempotency records. Jobs
then read them from the batch's cache (`store/cache.py`) instead of the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from drawdown.store import customers, idempotency, ledger_tables
from drawdown.store.committer import LockKey
from drawdown.store.tx import Tx


def prefetch(tx: Tx, locks: Sequence[LockKey], keys: Sequence[tuple[str, str]]) -> None:
    ids = [lock.customer_id for lock in locks if lock.customer_id is not None]
    external_ids = [lock.external_id for lock in locks if lock.external_id is not None]
    if tx.batch is None:  # job by job: only the locks, taken in one statement as before
        if locks:
            customers.lock_batch(tx, ids, external_ids)
        return
    found = customers.lock_with_heads(tx, ids, external_ids) if locks else []
    for customer, heads in found:
        tx.batch.put_customer(customer, heads)
    ledger_tables.load_open_blocks(
        tx, {customer.id: list(heads) for customer, heads in found if heads}
    )
    idempotency.load(tx, keys)
