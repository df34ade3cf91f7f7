"""Wire form of webhook events: Orb's event envelope (`payload_style: "expanded"`).

`customer` is the full Customer object, as in Orb's expanded payloads; `properties` were
decided when the event was written (services/webhooks). Rendered once per event, when it
is first delivered, so every attempt and every endpoint receives the same bytes.
"""

from __future__ import annotations

from drawdown.api.jsonio import dumps
from drawdown.api.schemas.customers import customer_json
from drawdown.ledger.dates import format_instant
from drawdown.records import Customer, WebhookEvent


def event_body(event: WebhookEvent, customer: Customer) -> str:
    body = {
        "id": event.id,
        "created_at": format_instant(event.created_at, fractions=False),
        "type": event.type,
        "payload_style": "expanded",
        "customer": customer_json(customer),
        "properties": dict(event.properties),
    }
    return dumps(body).decode()  # stored as text; every attempt signs these same bytes
