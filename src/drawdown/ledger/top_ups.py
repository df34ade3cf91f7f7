"""When a top-up fires, and the increment it appends (R-TOP-2..4): a pure rule.

The write path asks ``decide`` after each request that may have lowered a ledger's drawable
balance; when it answers with a ``Firing``, the billing service writes the invoice and the
write path appends the increment. Time, ids and the customer's zone are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from drawdown.ledger.commands import Increment
from drawdown.ledger.dates import add_days_local, add_months_local
from drawdown.ledger.model import BlockStatus, LedgerState
from drawdown.ledger.ordering import drawable_balance

ExpiryUnit = Literal["day", "month"]


@dataclass(frozen=True)
class TopUpRule:
    """The parts of a top-up that decide firing and shape its increment."""

    top_up_id: str
    threshold: Decimal
    amount: Decimal
    per_unit_cost_basis: Decimal
    active_from: datetime
    require_successful_payment: bool
    expires_after: int | None
    expires_after_unit: ExpiryUnit | None


def is_armed(rule: TopUpRule, at: datetime, *, has_pending_block: bool) -> bool:
    """R-TOP-2: active from now on, and not waiting for an earlier top-up to be paid."""
    if at < rule.active_from:
        return False
    return not (rule.require_successful_payment and has_pending_block)


def should_fire(
    rule: TopUpRule, state: LedgerState, at: datetime, *, has_pending_block: bool
) -> bool:
    """R-TOP-3: armed and the drawable balance D at or below the threshold (once per point)."""
    if not is_armed(rule, at, has_pending_block=has_pending_block):
        return False
    return drawable_balance(state, at) <= rule.threshold


def block_expiry(rule: TopUpRule, at: datetime, tz: str) -> datetime | None:
    """R-TOP-4 / R-TZ-4: each top-up block lives `expires_after` days or months, locally."""
    if rule.expires_after is None:
        return None
    if rule.expires_after_unit == "month":
        return add_months_local(at, rule.expires_after, tz)
    return add_days_local(at, rule.expires_after, tz)


def increment(
    rule: TopUpRule,
    at: datetime,
    tz: str,
    *,
    block_id: str,
    entry_id: str,
    invoice_id: str,
    block_status: BlockStatus,
) -> Increment:
    """R-TOP-4: the top-up's increment, effective now, described "Top-up"."""
    return Increment(
        block_id=block_id,
        entry_id=entry_id,
        amount=rule.amount,
        effective_date=at,
        expiry_date=block_expiry(rule, at, tz),
        per_unit_cost_basis=rule.per_unit_cost_basis,
        description="Top-up",
        status=block_status,
        source="top_up",
        invoice_id=invoice_id,
        top_up_id=rule.top_up_id,
    )
