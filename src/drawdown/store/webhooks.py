"""SQL for webhook endpoints, the event outbox, deliveries and their attempts, and the
per-ledger balance-alert state.

Events and their deliveries are inserted in the transaction of the ledger change that
caused them (R-WHK-1), and delivered at least once (R-WHK-2). A delivery process claims
due deliveries by writing a lease (until, token); on PostgreSQL the claim skips rows
another process has locked (`FOR UPDATE SKIP LOCKED`), on SQLite writers are serialized
anyway. An attempt's result only moves a delivery whose lease token is still the
claimer's, so a sender whose lease ran out cannot undo the work of the process that took
over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from drawdown.records import (
    ClaimedDelivery,
    Customer,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from drawdown.store.customers import customer_of
from drawdown.store.schema import (
    balance_alert_status,
    customers,
    expiry_notices,
    ledgers,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)
from drawdown.store.tx import Tx

_ep, _ev, _d, _a = webhook_endpoints.c, webhook_events.c, webhook_deliveries.c, webhook_attempts.c


# --- endpoints -----------------------------------------------------------------------------


def _endpoint(row: Mapping[str, Any]) -> WebhookEndpoint:
    events = row["events"]
    return WebhookEndpoint(
        row["id"], row["url"], row["secret"], None if events is None else tuple(events),
        row["created_at"], row["deleted_at"],
    )  # fmt: skip


def insert_endpoint(tx: Tx, endpoint: WebhookEndpoint) -> None:
    events = None if endpoint.events is None else list(endpoint.events)
    tx.execute(
        webhook_endpoints.insert().values(
            id=endpoint.id, url=endpoint.url, secret=endpoint.secret, events=events,
            created_at=endpoint.created_at, deleted_at=None,
        )
    )  # fmt: skip


def live_endpoints(tx: Tx) -> list[WebhookEndpoint]:
    query = select(webhook_endpoints).where(_ep.deleted_at.is_(None)).order_by(_ep.created_at)
    return [_endpoint(row) for row in tx.execute(query).mappings()]


def get_endpoint(tx: Tx, endpoint_id: str) -> WebhookEndpoint | None:
    row = tx.execute(select(webhook_endpoints).where(_ep.id == endpoint_id)).mappings().first()
    return None if row is None else _endpoint(row)


def remove_endpoint(tx: Tx, endpoint_id: str, now: datetime) -> None:
    """Soft delete; its pending deliveries stop (marked failed, kept for the record)."""
    tx.execute(update(webhook_endpoints).where(_ep.id == endpoint_id).values(deleted_at=now))
    tx.execute(
        update(webhook_deliveries)
        .where(_d.endpoint_id == endpoint_id, _d.status == "pending")
        .values(status="failed", next_attempt_at=None, lease_until=None, lease_token=None)
    )


# --- events and deliveries -------------------------------------------------------------------


def insert_event(tx: Tx, event: WebhookEvent, endpoint_ids: Sequence[str]) -> None:
    """The event and one pending delivery per endpoint, due at once."""
    tx.execute(
        webhook_events.insert().values(
            customer_id=event.customer_id, id=event.id, type=event.type,
            currency=event.currency, properties=dict(event.properties), body=event.body,
            created_at=event.created_at,
        )
    )  # fmt: skip
    if endpoint_ids:
        tx.execute(
            webhook_deliveries.insert(),
            [_new_delivery(event.customer_id, event.id, e, event.created_at) for e in endpoint_ids],
        )


def _new_delivery(
    customer_id: str, event_id: str, endpoint_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "customer_id": customer_id, "event_id": event_id, "endpoint_id": endpoint_id,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "lease_until": None,
        "lease_token": None, "delivered_at": None, "created_at": now,
    }  # fmt: skip


def _due(now: datetime) -> Any:
    return and_(
        _d.status == "pending",
        _d.next_attempt_at <= now,
        or_(_d.lease_until.is_(None), _d.lease_until <= now),
    )


def has_due(tx: Tx, now: datetime) -> bool:
    """Whether any delivery is due (a read, so an idle poll never takes the write lock)."""
    return tx.execute(select(_d.event_id).where(_due(now)).limit(1)).first() is not None


def outbox_backlog(tx: Tx) -> tuple[int, datetime | None]:
    """(pending deliveries, when the oldest of them was created)."""
    query = select(func.count(), func.min(_d.created_at)).where(_d.status == "pending")
    count, oldest = tx.execute(query).one()
    return int(count), oldest


def claim_due(
    tx: Tx, now: datetime, limit: int, lease_until: datetime, token: str
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries to live endpoints, oldest due first."""
    query = (
        select(_d.customer_id, _d.event_id, _d.endpoint_id, _d.attempts)
        .where(_due(now))
        .order_by(_d.next_attempt_at)
        .limit(limit)
    )
    if tx.postgres:
        query = query.with_for_update(skip_locked=True)
    rows = tx.execute(query).all()
    if not rows:
        return []
    endpoints = {e.id: e for e in live_endpoints(tx)}
    claimed = []
    for customer_id, event_id, endpoint_id, attempts in rows:
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None:  # removed meanwhile (by a process whose list we had not seen)
            _set(tx, customer_id, event_id, endpoint_id, status="failed", next_attempt_at=None)
            continue
        _set(tx, customer_id, event_id, endpoint_id, lease_until=lease_until, lease_token=token)
        body = tx.execute(
            select(_ev.body).where(_ev.customer_id == customer_id, _ev.id == event_id)
        ).scalar_one()
        claimed.append(ClaimedDelivery(customer_id, event_id, endpoint_id, endpoint.url,
                                       endpoint.secret, attempts, token, body))  # fmt: skip
    return claimed


def _set(tx: Tx, customer_id: str, event_id: str, endpoint_id: str, **values: Any) -> int:
    result = tx.execute(
        update(webhook_deliveries)
        .where(_d.customer_id == customer_id, _d.event_id == event_id,
               _d.endpoint_id == endpoint_id)
        .values(**values)
    )  # fmt: skip
    return int(result.rowcount)


def event(tx: Tx, customer_id: str, event_id: str) -> WebhookEvent | None:
    query = select(webhook_events).where(_ev.customer_id == customer_id, _ev.id == event_id)
    row = tx.execute(query).mappings().first()
    return (
        None
        if row is None
        else WebhookEvent(**{k: row[k] for k in WebhookEvent.__dataclass_fields__})
    )


def find_event(tx: Tx, event_id: str) -> WebhookEvent | None:
    row = tx.execute(select(_ev.customer_id).where(_ev.id == event_id)).first()
    return None if row is None else event(tx, row[0], event_id)


def set_body(tx: Tx, customer_id: str, event_id: str, body: str) -> None:
    tx.execute(
        update(webhook_events)
        .where(_ev.customer_id == customer_id, _ev.id == event_id, _ev.body.is_(None))
        .values(body=body)
    )


def customer_any(tx: Tx, customer_id: str) -> Customer | None:
    """The customer, deleted or not (an event outlives its customer's deletion)."""
    row = tx.execute(select(customers).where(customers.c.id == customer_id)).mappings().first()
    return None if row is None else customer_of(row)


def record_attempt(
    tx: Tx, claimed: ClaimedDelivery, attempt: WebhookAttempt, *, status: str,
    next_attempt_at: datetime | None,
) -> bool:  # fmt: skip
    """Keep the attempt; move the delivery on if this process still holds its lease."""
    tx.execute(webhook_attempts.insert().values(**attempt.__dict__))
    moved = tx.execute(
        update(webhook_deliveries)
        .where(_d.customer_id == claimed.customer_id, _d.event_id == claimed.event_id,
               _d.endpoint_id == claimed.endpoint_id, _d.lease_token == claimed.lease_token)
        .values(status=status, attempts=_d.attempts + 1, next_attempt_at=next_attempt_at,
                lease_until=None, lease_token=None,
                delivered_at=attempt.attempted_at if status == "delivered" else None)
    )  # fmt: skip
    return bool(moved.rowcount)


def requeue(tx: Tx, event: WebhookEvent, endpoint_ids: Iterable[str], now: datetime) -> int:
    """Replay by hand: each delivery due now with a fresh retry budget (created if missing)."""
    count = 0
    for endpoint_id in endpoint_ids:
        values = {"status": "pending", "attempts": 0, "next_attempt_at": now,
                  "lease_until": None, "lease_token": None}  # fmt: skip
        if not _set(tx, event.customer_id, event.id, endpoint_id, **values):
            row = _new_delivery(event.customer_id, event.id, endpoint_id, now)
            tx.execute(webhook_deliveries.insert().values(**row))
        count += 1
    return count


_DELIVERY_COLUMNS = (
    _d.customer_id, _d.event_id, _d.endpoint_id, _d.status, _d.attempts, _d.next_attempt_at,
    _d.delivered_at, _d.created_at, _ev.type,
)  # fmt: skip


def recent_deliveries(
    tx: Tx, *, endpoint_id: str | None = None, event_id: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    query = select(*_DELIVERY_COLUMNS).join(
        webhook_events, and_(_ev.customer_id == _d.customer_id, _ev.id == _d.event_id)
    )
    if endpoint_id is not None:
        query = query.where(_d.endpoint_id == endpoint_id)
    if event_id is not None:
        query = query.where(_d.event_id == event_id)
    query = query.order_by(_d.created_at.desc(), _d.event_id).limit(limit)
    return [WebhookDelivery(*row) for row in tx.execute(query).all()]


def attempts_of(tx: Tx, event_ids: Sequence[str]) -> list[WebhookAttempt]:
    if not event_ids:
        return []
    query = (
        select(webhook_attempts)
        .where(_a.event_id.in_(list(event_ids)))
        .order_by(_a.attempted_at, _a.id)
    )
    fields = WebhookAttempt.__dataclass_fields__
    return [WebhookAttempt(**{k: row[k] for k in fields}) for row in tx.execute(query).mappings()]


def endpoint_pending(tx: Tx, endpoint_id: str) -> tuple[int, datetime | None]:
    """(pending deliveries to the endpoint, when the next of them is due)."""
    query = select(func.count(), func.min(_d.next_attempt_at)).where(
        _d.status == "pending", _d.endpoint_id == endpoint_id
    )
    count, next_at = tx.execute(query).one()
    return int(count), next_at


def endpoint_attempts(tx: Tx, endpoint_id: str, limit: int) -> list[WebhookAttempt]:
    """The endpoint's latest attempts, newest first."""
    query = (
        select(webhook_attempts)
        .where(_a.endpoint_id == endpoint_id)
        .order_by(_a.attempted_at.desc(), _a.id)
        .limit(limit)
    )
    fields = WebhookAttempt.__dataclass_fields__
    return [WebhookAttempt(**{k: row[k] for k in fields}) for row in tx.execute(query).mappings()]


# --- balance-alert state ----------------------------------------------------------------------

_s = balance_alert_status.c


def alert_status(tx: Tx, customer_id: str, currency: str) -> tuple[bool, list[Decimal]] | None:
    query = select(_s.depleted, _s.below).where(
        _s.customer_id == customer_id, _s.currency == currency
    )
    row = tx.execute(query).first()
    return None if row is None else (bool(row[0]), [Decimal(v) for v in row[1]])


def alert_statuses(tx: Tx, customer_id: str) -> dict[str, tuple[bool, list[Decimal]]]:
    """The alert state of every ledger of the customer that has one, by currency."""
    query = select(_s.currency, _s.depleted, _s.below).where(_s.customer_id == customer_id)
    return {row[0]: (bool(row[1]), [Decimal(v) for v in row[2]]) for row in tx.execute(query)}


def save_alert_status(
    tx: Tx, customer_id: str, currency: str, depleted: bool, below: Iterable[Decimal],
    now: datetime,
) -> None:  # fmt: skip
    values = {"depleted": depleted, "below": sorted(str(v) for v in below), "updated_at": now}
    result = tx.execute(
        update(balance_alert_status)
        .where(_s.customer_id == customer_id, _s.currency == currency)
        .values(**values)
    )
    if not result.rowcount:
        tx.execute(
            balance_alert_status.insert().values(customer_id=customer_id, currency=currency,
                                                 **values)
        )  # fmt: skip


# --- credits expiring ----------------------------------------------------------------------------


def ledgers_expiring_by(tx: Tx, horizon: datetime, limit: int) -> list[tuple[str, str]]:
    """(customer id, currency) of live customers' ledgers with an expiry at or before horizon."""
    query = (
        select(ledgers.c.customer_id, ledgers.c.currency)
        .join(customers, customers.c.id == ledgers.c.customer_id)
        .where(ledgers.c.next_expiry_at <= horizon, customers.c.deleted_at.is_(None))
        .order_by(ledgers.c.customer_id, ledgers.c.currency)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in tx.execute(query).all()]


def noticed(tx: Tx, customer_id: str, block_ids: Sequence[str]) -> set[str]:
    if not block_ids:
        return set()
    n = expiry_notices.c
    query = select(n.block_id).where(n.customer_id == customer_id, n.block_id.in_(list(block_ids)))
    return {row[0] for row in tx.execute(query).all()}


def add_notice(tx: Tx, customer_id: str, block_id: str, event_id: str, now: datetime) -> bool:
    """False when the block was already announced (by this or another process)."""
    return tx.insert_unless_duplicate(
        expiry_notices.insert().values(customer_id=customer_id, block_id=block_id,
                                       event_id=event_id, created_at=now)
    )  # fmt: skip
