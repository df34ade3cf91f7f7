"""The customer page's two read-only views (drawdown extensions): balances and blocks as
of an instant (`as_of`), and the entries a deduction would write (`preview`). Both are
plain GET parameters: they write nothing, so they need no CSRF token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drawdown.ledger.errors import LedgerError
from drawdown.services.context import ServiceContext
from drawdown.services.credits import balances, reads
from drawdown.services.entry_input import DecrementRequest, shaped
from drawdown.services.errors import InvalidRequest, ServiceError
from drawdown.services.write_path import CustomerRef


def extra(ctx: ServiceContext, customer_id: str, currency: str, all_blocks: bool,
          params: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    """Overrides and additions for the page data (errors as `as_of_error`/`preview_error`)."""
    found: dict[str, Any] = {}
    ref = CustomerRef(id=customer_id)
    as_of = params.get("as_of", "").strip()
    if as_of:
        try:
            query = reads.BlockQuery(currency, include_all_blocks=all_blocks, effective_date=[])
            found["summaries"] = balances.summaries(ctx, ref, None, as_of)
            found["blocks"] = balances.blocks_as_of(ctx, ref, query, as_of)
            found["as_of"] = as_of
        except (LedgerError, ServiceError) as exc:
            found["as_of_error"] = exc.message
    amount = params.get("preview", "").strip()
    if amount:
        body = {"entry_type": "decrement", "amount": amount, "currency": currency}
        try:
            found["preview"] = balances.preview_decrement(ctx, ref, shaped(DecrementRequest, body))
        except InvalidRequest as exc:
            found["preview_error"] = f"{exc.field}: {exc.message}"
        except (LedgerError, ServiceError) as exc:
            found["preview_error"] = exc.message
        found["preview_amount"] = amount
    return found
