"""Balances people can act on, and the balance-alert rules (pure).

``summarize`` splits the ledger balance L (R-BAL-4) into what can be spent now, what is
scheduled and what waits for a payment, so the three always add up to L exactly.
``balance_alerts`` decides, from a ledger's alert state and its available balance, which
of Orb's balance events fire (each once per crossing); ``expiring_blocks`` says which blocks
``customer.credits_expiring`` announces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from drawdown.ledger.amounts import exact_arithmetic
from drawdown.ledger.model import Block, LedgerState
from drawdown.ledger.ordering import drawdown_order

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Summary:
    """One ledger's balance at an instant: available + scheduled + awaiting_payment = total.

    * available: the drawable balance D (negative in deficit), plus the debt of expired
      blocks still below zero (R-NEG-3 keeps it; nothing but an amendment repays it);
    * scheduled: active blocks not yet effective (R-PEND-1);
    * awaiting_payment: blocks blocked on an unpaid invoice (pending_payment), whatever
      their effective date;
    * total: their sum, the ledger balance L.
    """

    currency: str
    available: Decimal
    scheduled: Decimal
    awaiting_payment: Decimal
    total: Decimal


def summarize(state: LedgerState, at: datetime) -> Summary:
    """The summary of ``state`` at ``at`` (after due expiries, R-TIME-1)."""
    available = scheduled = awaiting = _ZERO
    with exact_arithmetic():
        for block in state.blocks.values():
            if block.status == "pending_payment":
                awaiting += block.balance
            elif not block.is_effective(at):
                scheduled += block.balance
            else:
                available += block.balance
        total = available + scheduled + awaiting
    return Summary(state.currency, available, scheduled, awaiting, total)


# --- balance alerts --------------------------------------------------------------------

AlertKind = Literal["depleted", "dropped", "recovered"]


@dataclass(frozen=True)
class AlertStatus:
    """Orb's `balance_alert_status` of one ledger: depleted, and the thresholds it is below."""

    depleted: bool = False
    below: frozenset[Decimal] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    threshold: Decimal | None = None  # for "dropped": the threshold crossed


def balance_alerts(
    status: AlertStatus, available: Decimal, thresholds: Sequence[Decimal]
) -> tuple[AlertStatus, tuple[Alert, ...]]:
    """The new status and the events to send, highest threshold first, depleted last.

    * dropped(t): available ≤ t and the ledger was not yet below t (Orb: "at or below");
      rising above t again re-arms it silently;
    * depleted: available ≤ 0 and the ledger was not depleted;
    * recovered: the ledger was depleted and available > 0 again.
    """
    below = frozenset(t for t in thresholds if available <= t)
    alerts = [Alert("dropped", t) for t in sorted(below - status.below, reverse=True)]
    depleted = available <= 0
    if depleted and not status.depleted:
        alerts.append(Alert("depleted"))
    if status.depleted and not depleted:
        alerts.append(Alert("recovered"))
    return AlertStatus(depleted, below), tuple(alerts)


def threshold_status(
    status: AlertStatus, kind: AlertKind, thresholds: Sequence[Decimal]
) -> tuple[tuple[Decimal, bool], ...]:
    """Orb's `balance_alert_status` of one alert: (threshold, in alert) pairs.

    A dropped alert lists each of its thresholds, in alert while the ledger is below it;
    depleted and recovered alerts have the one threshold 0, in alert while the ledger is
    depleted. Both read "the balance is at or below the value" as of the last evaluation.
    """
    if kind == "dropped":
        return tuple((t, t in status.below) for t in thresholds)
    return ((_ZERO, status.depleted),)


def expiring_blocks(blocks: Iterable[Block], now: datetime, within: timedelta) -> list[Block]:
    """Blocks with credits left that expire after ``now`` and at most ``within`` later."""
    horizon = now + within
    return drawdown_order(
        b
        for b in blocks
        if b.expiry_date is not None and now < b.expiry_date <= horizon and b.balance > 0
    )
