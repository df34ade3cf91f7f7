"""The customer page's inputs: which ledger is in view, ledger filters and the page cursor.

Bad filter values do not break the page: they come back as errors by field. Everything the
page shows is gathered by one use case, `services.console.customer_page`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.errors import LedgerError
from drawdown.services import console
from drawdown.services.context import ServiceContext
from drawdown.services.credits.reads import EntryQuery
from drawdown.services.entry_input import ENTRY_TYPES
from drawdown.services.usage.deduct import pending_usage
from drawdown.web import point_in_time
from drawdown.web.chart import balance_chart

LEDGER_PAGE_SIZE = 25
ENTRY_STATUSES = ("committed", "pending")
FILTER_NAMES = ("entry_type", "entry_status", "minimum_amount", "created_from", "created_before")


@dataclass(frozen=True)
class LedgerFilters:
    values: Mapping[str, str]  # as typed, to fill the filter form again

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> LedgerFilters:
        return cls({name: params.get(name, "").strip() for name in FILTER_NAMES})

    def query(self, after: Any, limit: int) -> EntryQuery:
        v = self.values
        created = [("gte", v["created_from"])] if v["created_from"] else []
        created += [("lt", v["created_before"])] if v["created_before"] else []
        minimum = v["minimum_amount"]
        return EntryQuery(
            currency=None,
            entry_type=v["entry_type"] if v["entry_type"] in ENTRY_TYPES else None,
            entry_status=v["entry_status"] if v["entry_status"] in ENTRY_STATUSES else None,
            minimum_amount=to_decimal(minimum, field="minimum_amount") if minimum else None,
            created_at=created,
            after=after,
            limit=limit,
        )


def load(ctx: ServiceContext, customer_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The page's data; raises ResourceNotFound for an unknown or deleted customer."""
    filters = LedgerFilters.from_params(params)
    filter_errors: dict[str, str] = {}
    try:
        query: EntryQuery | None = filters.query(decode_cursor(params.get("after")),
                                                 LEDGER_PAGE_SIZE + 1)  # fmt: skip
    except LedgerError as exc:
        query, filter_errors = None, {exc.field: exc.message}
    page = console.customer_page(
        ctx, customer_id, currency=params.get("currency"),
        all_blocks=params.get("all_blocks") == "1", entries=query,
    )  # fmt: skip
    if page.entries_error is not None:
        filter_errors = {page.entries_error[0]: page.entries_error[1]}
    shown = page.entries[:LEDGER_PAGE_SIZE]
    more = len(page.entries) > LEDGER_PAGE_SIZE
    all_blocks = params.get("all_blocks") == "1"
    views = point_in_time.extra(ctx, customer_id, page.currency, all_blocks, params)
    return {
        "customer": page.customer,
        "balances": page.balances,
        "chain_heads": page.chain_heads,
        "currency": page.currency,
        "all_blocks": params.get("all_blocks") == "1",
        "blocks": page.blocks,
        "block_choices": page.block_choices,
        "filters": filters.values,
        "entries": shown,
        "next_cursor": encode_cursor(shown[-1].entry) if more else None,
        "filter_errors": filter_errors,
        "chart": balance_chart(page.history, page.now),
        "invoices": page.invoices,
        "top_ups": page.top_ups,
        "now": page.now,
        "summaries": page.summaries,
        "settings": page.settings,
        "alerts": page.alerts,
        "pending_usage": pending_usage(ctx, customer_id),
        **views,
    }


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
    if not 0 <= keyset[1] < 2**63 or len(entry_id) > 64:
        return None
    return keyset if instant.tzinfo is not None else None
