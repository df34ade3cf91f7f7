"""`customer.credits_expiring` (R-WHK-4, a drawdown extension): sent once per block, N days
(`DRAWDOWN_CREDITS_EXPIRING_DAYS`) before a block with credits left expires.

The delivery loop looks for candidates once a minute, only while some endpoint wants the
event: ledgers whose next expiry falls within the window (an indexed column of the ledger
head), then their open blocks (`ledger/balances.expiring_blocks`). A block is announced in
the customer's write transaction together with its notice row, whose key makes the
announcement happen once even when several processes look at the same time. The write
catches the customer up first, so a scan also writes the expiries that fell due meanwhile:
it logs both counts, at info when either is not zero.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.balances import expiring_blocks
from drawdown.ledger.dates import format_instant
from drawdown.ledger.model import Block
from drawdown.services.context import ServiceContext
from drawdown.services.credits.reads import expiries_caught_up
from drawdown.services.webhooks import events
from drawdown.services.write_path import CustomerRef, CustomerWrite, Work, customer_work
from drawdown.store import ledger_tables as ledger_store
from drawdown.store import webhooks as store

CANDIDATES_MAX = 1000
log = logging.getLogger("drawdown.expiry")


def scan(ctx: ServiceContext) -> int:
    """Announce every block newly within the window; returns how many were announced."""
    within = timedelta(days=ctx.settings.credits_expiring_days)
    with ctx.db.read() as tx:
        if not ctx.webhooks.wants(tx, events.EXPIRING):
            return 0
        now = ctx.now()
        due: dict[str, list[str]] = defaultdict(list)
        for customer_id, currency in store.ledgers_expiring_by(tx, now + within, CANDIDATES_MAX):
            blocks = ledger_store.open_blocks(tx, customer_id, currency).values()
            ids = [b.id for b in expiring_blocks(blocks, now, within)]
            if set(ids) - store.noticed(tx, customer_id, ids):
                due[customer_id].append(currency)
    announced = expired = 0
    for customer_id, currencies in sorted(due.items()):
        news, caught_up = _announce_work(customer_id, currencies, within).run(ctx)
        announced, expired = announced + news, expired + caught_up
    level = logging.INFO if announced or expired else logging.DEBUG
    log.log(level, "expiring-credits scan: announced %d block(s) of %d customer(s), wrote %d "
            "credit_block_expiry entries", announced, len(due), expired,
            extra={"announced": announced, "customers": len(due), "expiries": expired})  # fmt: skip
    return announced


def _announce_work(
    customer_id: str, currencies: list[str], within: timedelta
) -> Work[tuple[int, int]]:
    return customer_work(
        CustomerRef(id=customer_id), lambda write: _announce(write, currencies, within)
    )


def _announce(write: CustomerWrite, currencies: list[str], within: timedelta) -> tuple[int, int]:
    """(blocks announced, expiry entries the catch-up before this body wrote)."""
    expired = expiries_caught_up(write)
    announced = 0
    for currency in currencies:
        for block in expiring_blocks(write.state(currency).blocks.values(), write.now, within):
            event_id = write.ctx.new_id()
            if store.add_notice(write.tx, write.customer_id, block.id, event_id, write.now):
                events.emit(write, events.EXPIRING, currency, _properties(block, within), event_id)
                announced += 1
    return announced, expired


def _properties(block: Block, within: timedelta) -> dict[str, object]:
    assert block.expiry_date is not None
    return {
        "credit_block": {
            "id": block.id,
            "balance": format_decimal(block.balance),
            "effective_date": format_instant(block.effective_date, fractions=False),
            "expiry_date": format_instant(block.expiry_date, fractions=False),
            "per_unit_cost_basis": None if block.per_unit_cost_basis is None
            else format_decimal(block.per_unit_cost_basis),
        },
        "days_before_expiry": within.days,
        "pricing_unit": events.pricing_unit(block.currency),
    }  # fmt: skip
