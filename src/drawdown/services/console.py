"""Read use cases of the admin console: customer search, the customer page, the session key.

The customer page is one use case: everything it shows (balances, blocks, a ledger page,
the chart's history, invoices, top-ups, alerts, chain heads) comes from one snapshot, after at
most one expiry catch-up.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from drawdown.ledger.balances import Summary, summarize
from drawdown.ledger.errors import LedgerError
from drawdown.ledger.model import Block, LedgerState
from drawdown.records import Customer, Invoice, TopUp
from drawdown.services import balance_alerts, write_path
from drawdown.services.balance_alerts import AlertView
from drawdown.services.context import ServiceContext
from drawdown.services.credits import credit_settings, reads
from drawdown.services.credits.credit_settings import CreditSettings
from drawdown.services.credits.views import EntryView
from drawdown.services.errors import ServiceError
from drawdown.services.write_path import CustomerRef
from drawdown.store import console as store
from drawdown.store import invoices as invoice_store
from drawdown.store import ledger_tables as ledger_store
from drawdown.store import top_ups as top_up_store
from drawdown.store.tx import Tx

SESSION_SECRET_NAME = "console_session"
DEFAULT_CURRENCY = "credits"
CHART_ENTRIES_MAX = 500  # the chart shows the most recent entries of the ledger
INVOICES_SHOWN_MAX = 50
TOP_UPS_SHOWN_MAX = 20
INVOICE_STATUSES = ("draft", "issued", "paid", "void")

Balances = dict[str, list[tuple[str, Decimal]]]


def search_customers(
    ctx: ServiceContext, text: str, offset: int, limit: int
) -> tuple[list[Customer], Balances]:
    """Customers matching `text` (name, email, external id) with their cached balances."""
    with ctx.db.read() as tx:
        rows = store.search_customers(tx, text, offset, limit)
        return rows, ledger_store.balances(tx, [r.id for r in rows])


@dataclass(frozen=True)
class CustomerPage:
    customer: Customer
    balances: list[tuple[str, Decimal]]
    chain_heads: list[tuple[str, str]]  # (currency, hash of the newest entry)
    currency: str
    blocks: list[Block]
    block_choices: list[Block]
    entries: list[EntryView]
    entries_error: tuple[str, str] | None  # (field, message) of a bad ledger filter
    history: list[tuple[datetime, Decimal]]  # (created_at, ending balance), oldest first
    invoices: list[Invoice]
    top_ups: list[TopUp]
    now: datetime
    summaries: list[Summary]  # per ledger: available, scheduled, awaiting payment, total
    settings: CreditSettings
    alerts: list[AlertView]  # every live balance alert, oldest first


def customer_page(
    ctx: ServiceContext,
    customer_id: str,
    *,
    currency: str | None,
    all_blocks: bool,
    entries: reads.EntryQuery | None,
) -> CustomerPage:
    """The customer page; `entries` without a currency shows the ledger in view."""

    def read(tx: Tx, customer: Customer, now: datetime) -> CustomerPage:
        heads = ledger_store.balances(tx, [customer.id])[customer.id]
        in_view = _currency_in_view(currency, customer, heads)
        page, error = _entries(tx, customer, entries, in_view, now)
        return CustomerPage(
            customer=customer,
            balances=heads,
            chain_heads=_chain_heads(tx, customer),
            currency=in_view,
            blocks=reads.blocks_in(tx, customer, _blocks(in_view, all_blocks), now),
            block_choices=reads.blocks_in(tx, customer, _blocks(in_view, True), now),
            entries=page,
            entries_error=error,
            history=_history(tx, customer, in_view, now),
            invoices=_invoices(tx, customer),
            top_ups=top_up_store.list_active(tx, customer.id, None, TOP_UPS_SHOWN_MAX),
            now=now,
            summaries=[
                summarize(LedgerState(c, ledger_store.open_blocks(tx, customer.id, c)), now)
                for c, _ in heads
            ],
            settings=credit_settings.settings_of(ctx, tx, customer),
            alerts=balance_alerts.alerts_of(tx, customer),
        )

    return reads.read_caught_up(ctx, CustomerRef(id=customer_id), read)


def _currency_in_view(
    asked: str | None, customer: Customer, balances: list[tuple[str, Decimal]]
) -> str:
    currencies = [c for c, _ in balances]
    for candidate in (asked, customer.currency):
        if candidate and candidate in currencies:
            return candidate
    return currencies[0] if currencies else (asked or DEFAULT_CURRENCY)


def _blocks(currency: str, include_all: bool) -> reads.BlockQuery:
    return reads.BlockQuery(currency, include_all_blocks=include_all, effective_date=[])


def _entries(
    tx: Tx, customer: Customer, query: reads.EntryQuery | None, currency: str, now: datetime
) -> tuple[list[EntryView], tuple[str, str] | None]:
    if query is None:
        return [], None
    query = reads.EntryQuery(
        currency, query.entry_type, query.entry_status, query.minimum_amount, query.created_at,
        query.after, query.limit,
    )  # fmt: skip
    try:
        return reads.entries_in(tx, customer, query, now), None
    except (LedgerError, ServiceError) as exc:  # a bad filter value: show it, not a 500
        return [], (exc.field or "filters", exc.message)


def _history(
    tx: Tx, customer: Customer, currency: str, now: datetime
) -> list[tuple[datetime, Decimal]]:
    query = reads.EntryQuery(currency, None, None, None, [], None, CHART_ENTRIES_MAX)
    views = reads.entries_in(tx, customer, query, now)
    # Listed newest first; the chart reads oldest first.
    return [(v.entry.created_at, v.entry.ending_balance) for v in reversed(views)]


def _invoices(tx: Tx, customer: Customer) -> list[Invoice]:
    return invoice_store.list_page(
        tx, customer_id=customer.id, statuses=INVOICE_STATUSES, invoice_date=[], due_date=[],
        amount=[], after=None, limit=INVOICES_SHOWN_MAX,
    )  # fmt: skip


def _chain_heads(tx: Tx, customer: Customer) -> list[tuple[str, str]]:
    return ledger_store.chain_heads(tx, customer.id)


def session_secret(ctx: ServiceContext) -> str:
    """`DRAWDOWN_CONSOLE_SECRET`, or a random one generated once and kept in the database."""
    if ctx.settings.console_secret:
        return ctx.settings.console_secret
    with ctx.db.read() as tx:
        existing = store.secret(tx, SESSION_SECRET_NAME)
    if existing is not None:
        return existing
    candidate = secrets.token_urlsafe(48)

    def insert(tx: Tx, _now: datetime) -> str:
        store.insert_secret(tx, SESSION_SECRET_NAME, candidate)
        # Another process may have inserted first; everyone uses the stored one.
        stored = store.secret(tx, SESSION_SECRET_NAME)
        assert stored is not None
        return stored

    return write_path.work(insert).run(ctx)


def balances(ctx: ServiceContext, customer_ids: Sequence[str]) -> Balances:
    with ctx.db.read() as tx:
        return ledger_store.balances(tx, customer_ids)
