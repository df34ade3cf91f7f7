"""Webhook events: their types, and writing one into the outbox inside a write.

An event is inserted in the transaction of the change that caused it, with one pending
delivery per endpoint that wants its type, so it exists if and only if that change
committed. The body (with the customer object) is rendered once, when first delivered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from drawdown.ledger.dates import format_instant
from drawdown.services.write_path import CustomerTx
from drawdown.store import webhooks as store
from drawdown.store.records import WebhookEvent

DEPLETED = "customer.credit_balance_depleted"
DROPPED = "customer.credit_balance_dropped"
RECOVERED = "customer.credit_balance_recovered"
EXPIRING = "customer.credits_expiring"  # a drawdown extension
BALANCE_EVENTS = frozenset({DEPLETED, DROPPED, RECOVERED})
EVENT_TYPES = (DEPLETED, DROPPED, RECOVERED, EXPIRING)


def emit(
    tx: CustomerTx, event_type: str, currency: str, properties: Mapping[str, Any],
    event_id: str | None = None,
) -> str:  # fmt: skip
    endpoint_ids = tx.ctx.webhooks.subscribers(tx.tx, event_type)
    event = WebhookEvent(tx.customer_id, event_id or tx.ctx.new_id(), event_type, currency,
                         properties, None, tx.now)  # fmt: skip
    store.insert_event(tx.tx, event, endpoint_ids)
    return event.id


def pricing_unit(currency: str) -> dict[str, Any]:
    return {"id": currency, "name": currency, "display_name": currency, "symbol": None}


def alert_configuration(
    tx: CustomerTx, kind: str, currency: str, thresholds: list[str], in_alert: list[dict[str, Any]]
) -> dict[str, Any]:
    """Orb's alert object. drawdown's alerts are implicit (one per customer, currency and
    kind), so the id is derived from those and `created_at` is the customer's."""
    digest = hashlib.sha256(f"{tx.customer_id}:{currency}:{kind}".encode()).hexdigest()
    customer = tx.customer
    return {
        "id": "alert_" + digest[:16],
        "created_at": format_instant(customer.created_at, fractions=False),
        "currency": currency,
        "customer": {"id": customer.id, "external_customer_id": customer.external_customer_id},
        "enabled": True,
        "metric": None,
        "plan": None,
        "subscription": None,
        "thresholds": [{"value": t} for t in thresholds] or None,
        "type": kind,
        "balance_alert_status": in_alert,
    }
