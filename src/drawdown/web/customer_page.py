"""Everything the customer page shows, gathered through the same services the API uses.

One ledger (currency) is in view at a time; its blocks, ledger page and chart are loaded
for it. Bad filter values do not break the page: they come back as errors by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.errors import LedgerError
from drawdown.ledger.model import Block
from drawdown.services import console
from drawdown.services import ledger as ledger_service
from drawdown.services.context import ServiceContext
from drawdown.services.customers import CustomerRef
from drawdown.services.entry_input import ENTRY_TYPES
from drawdown.services.errors import ServiceError
from drawdown.services.invoices import InvoiceQuery, list_invoices
from drawdown.services.top_ups import list_top_ups
from drawdown.web.chart import balance_chart

LEDGER_PAGE_SIZE = 25
CHART_ENTRIES_MAX = 500  # the chart shows the most recent entries of the ledger
INVOICES_SHOWN_MAX = 50
TOP_UPS_SHOWN_MAX = 20
INVOICE_STATUSES = ("draft", "issued", "paid", "void")
ENTRY_STATUSES = ("committed", "pending")
FILTER_NAMES = ("entry_type", "entry_status", "minimum_amount", "created_from", "created_before")
DEFAULT_CURRENCY = "credits"


@dataclass(frozen=True)
class LedgerFilters:
    values: Mapping[str, str]  # as typed, to fill the filter form again

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> LedgerFilters:
        return cls({name: params.get(name, "").strip() for name in FILTER_NAMES})

    def query(self, currency: str, after: Any, limit: int) -> ledger_service.EntryQuery:
        v = self.values
        created = [("gte", v["created_from"])] if v["created_from"] else []
        created += [("lt", v["created_before"])] if v["created_before"] else []
        minimum = v["minimum_amount"]
        return ledger_service.EntryQuery(
            currency=currency,
            entry_type=v["entry_type"] if v["entry_type"] in ENTRY_TYPES else None,
            entry_status=v["entry_status"] if v["entry_status"] in ENTRY_STATUSES else None,
            minimum_amount=to_decimal(minimum, field="minimum_amount") if minimum else None,
            created_at=created,
            after=after,
            limit=limit,
        )


def load(ctx: ServiceContext, customer_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The page's data; raises ResourceNotFound for an unknown or deleted customer."""
    ref = CustomerRef(id=customer_id)
    customer = ledger_service.catch_up_if_due(ctx, ref)  # balances below are then current
    balances = console.balances(ctx, [customer_id])[customer_id]
    currency = _currency_in_view(params.get("currency"), customer, balances)
    all_blocks = params.get("all_blocks") == "1"
    filters = LedgerFilters.from_params(params)
    page = _ledger_page(ctx, ref, currency, filters, params.get("after"))
    return {
        "customer": customer,
        "balances": balances,
        "currency": currency,
        "all_blocks": all_blocks,
        "blocks": _blocks(ctx, ref, currency, include_all=all_blocks),
        "block_choices": _blocks(ctx, ref, currency, include_all=True),
        "filters": filters.values,
        **page,
        "chart": balance_chart(_history(ctx, ref, currency), ctx.now()),
        "invoices": _invoices(ctx, ref),
        "top_ups": list_top_ups(ctx, ref, None, TOP_UPS_SHOWN_MAX),
        "now": ctx.now(),
    }


def _currency_in_view(
    asked: str | None, customer: RowMapping, balances: list[tuple[str, Decimal]]
) -> str:
    currencies = [c for c, _ in balances]
    for candidate in (asked, customer["currency"]):
        if candidate and candidate in currencies:
            return candidate
    return currencies[0] if currencies else (asked or DEFAULT_CURRENCY)


def _blocks(ctx: ServiceContext, ref: CustomerRef, currency: str, include_all: bool) -> list[Block]:
    query = ledger_service.BlockQuery(currency, include_all_blocks=include_all, effective_date=[])
    return ledger_service.list_blocks(ctx, ref, query)


def _ledger_page(
    ctx: ServiceContext,
    ref: CustomerRef,
    currency: str,
    filters: LedgerFilters,
    cursor: str | None,
) -> dict[str, Any]:
    try:
        query = filters.query(currency, decode_cursor(cursor), LEDGER_PAGE_SIZE + 1)
        views = ledger_service.list_entries(ctx, ref, query)
    except (LedgerError, ServiceError) as exc:
        return {"entries": [], "next_cursor": None, "filter_errors": {exc.field: exc.message}}
    shown = views[:LEDGER_PAGE_SIZE]
    more = len(views) > LEDGER_PAGE_SIZE
    next_cursor = encode_cursor(shown[-1].entry) if more else None
    return {"entries": shown, "next_cursor": next_cursor, "filter_errors": {}}


def encode_cursor(entry: Any) -> str:
    return f"{entry.created_at.isoformat()}|{entry.seq}|{entry.id}"


def decode_cursor(cursor: str | None) -> tuple[datetime, int, str] | None:
    """The keyset after which the next ledger page starts; a bad cursor means page one."""
    try:
        created_at, seq, entry_id = (cursor or "").split("|")
        instant = datetime.fromisoformat(created_at)
        keyset = instant, int(seq), entry_id
    except ValueError:
        return None
    return keyset if instant.tzinfo is not None else None


def _history(
    ctx: ServiceContext, ref: CustomerRef, currency: str
) -> list[tuple[datetime, Decimal]]:
    query = ledger_service.EntryQuery(currency, None, None, None, [], None, CHART_ENTRIES_MAX)
    views = ledger_service.list_entries(ctx, ref, query)
    # Listed newest first; the chart reads oldest first.
    return [(v.entry.created_at, v.entry.ending_balance) for v in reversed(views)]


def _invoices(ctx: ServiceContext, ref: CustomerRef) -> list[Any]:
    query = InvoiceQuery(
        customer=ref,
        statuses=INVOICE_STATUSES,
        invoice_date=[],
        due_date=[],
        amount=[],
        after=None,
        limit=INVOICES_SHOWN_MAX,
    )
    return [row for row, _ in list_invoices(ctx, query)]
