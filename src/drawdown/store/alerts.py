"""SQL for customers' balance alerts (Orb's alert configurations) and the customer flag
that says a customer has any, so writes for customers without alerts never read this table.

Live alerts have `deleted_at IS NULL`; a partial unique index keeps one live alert per
(customer, type, ledger). Every statement names the customer, except the lookup by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select, update

from drawdown.ledger.amounts import format_decimal
from drawdown.records import BalanceAlert
from drawdown.store.schema import alerts, customers
from drawdown.store.sqlfuncs import before, compare
from drawdown.store.tx import Tx

_a = alerts.c
_live = _a.deleted_at.is_(None)


def _alert(row: Mapping[str, Any]) -> BalanceAlert:
    return BalanceAlert(
        row["customer_id"], row["id"], row["type"], row["currency"], bool(row["enabled"]),
        tuple(Decimal(v) for v in row["thresholds"]), row["created_at"],
    )  # fmt: skip


def _thresholds(values: Sequence[Decimal]) -> list[str]:
    return [format_decimal(v) for v in values]


def insert(tx: Tx, alert: BalanceAlert) -> None:
    tx.execute(
        alerts.insert().values(
            customer_id=alert.customer_id, id=alert.id, type=alert.type,
            currency=alert.currency, enabled=alert.enabled,
            thresholds=_thresholds(alert.thresholds), created_at=alert.created_at,
        )
    )  # fmt: skip


def get(tx: Tx, alert_id: str) -> BalanceAlert | None:
    """A live alert by id alone (ids are random: no customer needed to find one)."""
    row = tx.execute(select(alerts).where(_a.id == alert_id, _live)).mappings().first()
    return None if row is None else _alert(row)


def of_customer(
    tx: Tx, customer_id: str, currencies: Sequence[str] | None = None
) -> list[BalanceAlert]:
    """The customer's live alerts (of these ledgers only, if given), oldest first."""
    query = select(alerts).where(_a.customer_id == customer_id, _live)
    if currencies is not None:
        query = query.where(_a.currency.in_(list(currencies)))
    query = query.order_by(_a.created_at, _a.id)
    return [_alert(row) for row in tx.execute(query).mappings()]


def list_page(
    tx: Tx,
    customer_id: str,
    *,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[BalanceAlert]:
    """Newest first; `after` is the (created_at, id) keyset of the previous page's last row."""
    query = select(alerts).where(_a.customer_id == customer_id, _live)
    for op, value in created_at_filters:
        query = query.where(compare(_a.created_at, op, value))
    if after is not None:
        query = query.where(before((_a.created_at, _a.id), after))
    query = query.order_by(_a.created_at.desc(), _a.id.desc()).limit(limit)
    return [_alert(row) for row in tx.execute(query).mappings()]


def change(tx: Tx, alert: BalanceAlert, values: Mapping[str, Any]) -> None:
    """Set `enabled` and/or `thresholds` (Decimals) of a live alert."""
    stored = dict(values)
    if "thresholds" in stored:
        stored["thresholds"] = _thresholds(stored["thresholds"])
    tx.execute(
        update(alerts)
        .where(_a.customer_id == alert.customer_id, _a.id == alert.id, _live)
        .values(**stored)
    )


def delete(tx: Tx, alert: BalanceAlert, now: datetime) -> None:
    tx.execute(
        update(alerts)
        .where(_a.customer_id == alert.customer_id, _a.id == alert.id, _live)
        .values(deleted_at=now)
    )


def refresh_flag(tx: Tx, customer_id: str) -> bool:
    """Set the customer's `balance_alerts` flag from its live alerts; returns it."""
    flag = bool(tx.execute(select(exists().where(_a.customer_id == customer_id, _live))).scalar())
    tx.execute(update(customers).where(customers.c.id == customer_id).values(balance_alerts=flag))
    return flag
