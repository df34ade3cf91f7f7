"""Creating ledger entries (E12/E13): plan the command and apply it (§2.3); the write path
then fires top-ups and evaluates alerts.

A newcomer follows a decrement from `api/routes/ledger.py` to here, then to
`services/write_path.py` (lock, load, apply, persist) and `store/committer.py` (commit).
"""

from __future__ import annotations

from typing import Any, assert_never

from drawdown.ledger import entry_status
from drawdown.services.credits import balances, planning, purchases
from drawdown.services.credits.planning import Planned
from drawdown.services.credits.views import EntryView
from drawdown.services.entry_input import (
    AmendmentRequest,
    DecrementRequest,
    EntryRequest,
    ExpirationChangeRequest,
    IncrementRequest,
    VoidRequest,
)
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    run_command,
)
from drawdown.store import invoices as invoice_store
from drawdown.store import ledger_tables as store


def plan(write: CustomerWrite, request: EntryRequest) -> Planned:
    """The command for a request, by its shape; mypy checks that every shape is planned."""
    if isinstance(request, DecrementRequest):  # first: by far the most frequent
        return planning.plan_decrement(write, request)
    if isinstance(request, IncrementRequest):
        return purchases.plan_purchase(write, request)
    if isinstance(request, VoidRequest):
        return planning.plan_void(write, request)
    if isinstance(request, AmendmentRequest):
        return planning.plan_amendment(write, request)
    if isinstance(request, ExpirationChangeRequest):
        return planning.plan_expiration_change(write, request)
    assert_never(request)


def create_entry(ref: CustomerRef, request: EntryRequest) -> Work[EntryView]:
    """Write one ledger entry request; the result is the entry §2.3 says to return."""

    def create(write: CustomerWrite) -> EntryView:
        planned = plan(write, request)
        balances.refuse_overdraft(write, planned)
        outcome = run_command(write, planned.currency, planned.command, block_ids=planned.block_ids)
        entry = outcome.response
        assert entry is not None
        state = write.state(planned.currency, complete=False)
        block = state.blocks.get(entry.block_id) or _block(write, entry.block_id)
        invoice = None
        if entry.entry_type == "increment" and block.invoice_id is not None:
            invoice = invoice_store.for_blocks(write.tx, write.customer_id, [block.id])[0]
        return EntryView(
            entry, block, write.customer, entry_status(entry, block, write.now), invoice
        )

    return customer_work(ref, create)


def _block(write: CustomerWrite, block_id: str) -> Any:
    block = store.block_by_id(write.tx, write.customer_id, block_id)
    assert block is not None
    return block
