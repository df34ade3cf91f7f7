"""The one write path for ledger data: lock the customer, catch up on time, apply, persist.

Every mutation of credit data (API, console, CLI, expiry sweep, top-ups) runs
inside `customer_transaction`, so writes to one customer are serialized and the
ledger is always brought up to date (due expiries, R-TIME-1) before it changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from drawdown.ledger import Command, Outcome, apply, expire_due
from drawdown.ledger.commands import Increment
from drawdown.services.commands_codec import encode_command
from drawdown.services.context import ServiceContext
from drawdown.services.customers import CustomerRef, find
from drawdown.store import ledger as store
from drawdown.store.engine import write_transaction


@dataclass
class CustomerTx:
    """An open write transaction holding one customer's lock, with one 'now'."""

    ctx: ServiceContext
    conn: Connection
    customer: RowMapping
    now: datetime
    # Ledgers whose drawable balance may have dropped: top-ups are evaluated for them.
    lowered: set[str] = field(default_factory=set)

    @property
    def customer_id(self) -> str:
        return str(self.customer["id"])


@contextmanager
def customer_transaction(ctx: ServiceContext, ref: CustomerRef) -> Iterator[CustomerTx]:
    with write_transaction(ctx.engine) as conn:
        customer = find(conn, ref, lock=True)
        tx = CustomerTx(ctx=ctx, conn=conn, customer=customer, now=ctx.now())
        catch_up(tx)
        yield tx
        _evaluate_top_ups(tx)


def catch_up(tx: CustomerTx) -> None:
    """Materialize every due expiry of the customer, ledger by ledger (R-TIME-1)."""
    due = store.due_currencies(tx.conn, tx.customer_id, tx.now)
    for currency in due:
        state = store.load_state(tx.conn, tx.customer_id, currency)
        outcome = expire_due(state, tx.now)
        _persist(tx, state, outcome)
        if outcome.entries:
            tx.lowered.add(currency)
    if due:
        # Expired blocks that had nothing to expire got no entry; close them too.
        store.mark_closed(tx.conn, tx.customer_id, tx.now)


def run_command(
    tx: CustomerTx, currency: str, command: Command, *, block_ids: Iterable[str] = ()
) -> Outcome:
    """Apply one command to a ledger, persist the result and log the command for replay."""
    store.ensure_ledger(tx.conn, tx.customer_id, currency)
    state = store.load_state(tx.conn, tx.customer_id, currency, block_ids)
    outcome = apply(state, command, tx.now, tx.ctx.new_id)
    _persist(tx, state, outcome)
    kind, payload = encode_command(command)
    store.append_command(tx.conn, tx.customer_id, currency, kind, payload, tx.now)
    if not isinstance(command, Increment):  # R-TOP-3: increments never trigger top-ups
        tx.lowered.add(currency)
    return outcome


def _persist(tx: CustomerTx, before: Any, outcome: Outcome) -> None:
    store.persist(
        tx.conn,
        tx.customer_id,
        before,
        outcome.state,
        outcome.entries,
        outcome.changed_blocks,
        tx.now,
    )


def _evaluate_top_ups(tx: CustomerTx) -> None:
    """R-TOP-3: once per ledger whose drawable balance may have dropped, after the request."""
    # Imported here because top-ups themselves write through this module.
    from drawdown.services.top_ups import evaluate

    for currency in sorted(tx.lowered):
        evaluate(tx, currency)
