"""Webhook events: their types, and writing one into the outbox inside a write (R-WHK-1).

An event is inserted in the transaction of the change that caused it, with one pending
delivery per endpoint that wants its type, so it exists if and only if that change
committed. The body (with the customer object) is rendered once, when first delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant
from drawdown.records import BalanceAlert, Customer, WebhookEvent
from drawdown.services.write_path import CustomerWrite
from drawdown.store import webhooks as store

DEPLETED = "customer.credit_balance_depleted"
DROPPED = "customer.credit_balance_dropped"
RECOVERED = "customer.credit_balance_recovered"
EXPIRING = "customer.credits_expiring"  # a drawdown extension
EVENT_TYPES = (DEPLETED, DROPPED, RECOVERED, EXPIRING)


def emit(
    write: CustomerWrite, event_type: str, currency: str, properties: Mapping[str, Any],
    event_id: str | None = None,
) -> str:  # fmt: skip
    endpoint_ids = write.ctx.webhooks.subscribers(write.tx, event_type)
    event = WebhookEvent(write.customer_id, event_id or write.ctx.new_id(), event_type, currency,
                         properties, None, write.now)  # fmt: skip
    store.insert_event(write.tx, event, endpoint_ids)
    return event.id


def pricing_unit(currency: str) -> dict[str, Any]:
    return {"id": currency, "name": currency, "display_name": currency, "symbol": None}


def alert_configuration(
    customer: Customer, alert: BalanceAlert, status: Sequence[tuple[Decimal, bool]]
) -> dict[str, Any]:
    """Orb's alert object as webhook payloads carry it: the alert that fired, with the
    ledger's state after this write (threshold values are strings here, numbers in the API)."""
    thresholds = [{"value": format_decimal(t)} for t in alert.thresholds]
    return {
        "id": alert.id,
        "created_at": format_instant(alert.created_at, fractions=False),
        "currency": alert.currency,
        "customer": {"id": customer.id, "external_customer_id": customer.external_customer_id},
        "enabled": alert.enabled,
        "metric": None,
        "plan": None,
        "subscription": None,
        "thresholds": thresholds or None,
        "type": alert.type,
        "balance_alert_status": [
            {"in_alert": in_alert, "threshold_value": format_decimal(value)}
            for value, in_alert in status
        ],
        "grouping_keys": None,
        "license_type": None,
        "price_filters": None,
        "threshold_overrides": None,
    }
