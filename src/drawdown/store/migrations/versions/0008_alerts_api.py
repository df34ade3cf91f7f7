"""customer balance alerts (Orb's alerts API): the `alerts` table, the customers' flag

Balance events now fire only for a configured, enabled alert (Orb's model). What existed is
carried over so a running deployment keeps its events:
* each customer's `balance_alert_thresholds` become one `credit_balance_dropped` alert per
  ledger, and the column goes (the alerts are the one source of truth);
* if a live webhook endpoint receives `customer.credit_balance_depleted` or `..._recovered`
  (which fired for every ledger before), each existing ledger of a live customer gets an
  enabled alert of that type.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import drawdown.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)
_LIVE = sa.text("deleted_at IS NULL")
_ALPHABET = string.ascii_letters + string.digits
_BATCH = 1000
_IMPLICIT = {  # the events that fired for every ledger before, and their alert types
    "customer.credit_balance_depleted": "credit_balance_depleted",
    "customer.credit_balance_recovered": "credit_balance_recovered",
}


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _alerts_table() -> sa.TableClause:
    """The columns the data steps write (a lightweight table, not the app's schema)."""
    return sa.table(
        "alerts", sa.column("customer_id", sa.String), sa.column("id", sa.String),
        sa.column("type", sa.String), sa.column("currency", sa.String),
        sa.column("enabled", sa.Boolean), sa.column("thresholds", _json()),
        sa.column("created_at", _instant), sa.column("deleted_at", _instant),
    )  # fmt: skip


def _customers_table(*extra: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table("customers", sa.column("id", sa.String), sa.column("deleted_at", _instant),
                    *extra)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("thresholds", _json(), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("deleted_at", _instant, nullable=True),
        sa.CheckConstraint(
            "type IN ('credit_balance_depleted', 'credit_balance_dropped', "
            "'credit_balance_recovered')",
            name=op.f("ck_alerts_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_alerts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_live_kind", "alerts", ["customer_id", "type", "currency"],
                    unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE)  # fmt: skip
    op.create_index("ix_alerts_listing", "alerts", ["customer_id", "created_at", "id"])
    op.create_index("ix_alerts_id", "alerts", ["id"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("balance_alerts", sa.Boolean(), nullable=False,
                                   server_default=sa.text("false")))  # fmt: skip
    now = datetime.now(UTC)
    _insert(_dropped_alerts(now))
    _insert(_implicit_alerts(now))
    _flag_customers_with_alerts()
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("balance_alert_thresholds")


def _new_id() -> str:
    # 16 characters from [A-Za-z0-9] (spec §1.6); a byte modulo 62 is uniform enough here.
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in os.urandom(16))


def _dropped_alerts(now: datetime) -> Iterator[dict[str, Any]]:
    customers = _customers_table(sa.column("balance_alert_thresholds", _json()))
    rows = (
        op.get_bind()
        .execute(
            sa.select(customers.c.id, customers.c.balance_alert_thresholds).where(
                customers.c.deleted_at.is_(None), customers.c.balance_alert_thresholds.is_not(None)
            )
        )
        .all()
    )  # read whole before the inserts start on the same connection
    for customer_id, thresholds in rows:
        by_ledger: dict[str, set[str]] = {}
        for item in thresholds or ():
            by_ledger.setdefault(item["currency"], set()).add(item["value"])
        for currency, values in sorted(by_ledger.items()):
            ordered = sorted(values, key=Decimal)
            yield _alert(customer_id, "credit_balance_dropped", currency, ordered, now)


def _implicit_alerts(now: datetime) -> Iterator[dict[str, Any]]:
    types = _implicit_types()
    if not types:
        return
    customers = _customers_table()
    ledgers = sa.table("ledgers", sa.column("customer_id", sa.String),
                       sa.column("currency", sa.String))  # fmt: skip
    rows = (
        op.get_bind()
        .execute(
            sa.select(ledgers.c.customer_id, ledgers.c.currency)
            .select_from(ledgers.join(customers, customers.c.id == ledgers.c.customer_id))
            .where(customers.c.deleted_at.is_(None))
            .order_by(ledgers.c.customer_id, ledgers.c.currency)
        )
        .all()
    )
    for customer_id, currency in rows:
        for alert_type in types:
            yield _alert(customer_id, alert_type, currency, [], now)


def _implicit_types() -> list[str]:
    """The alert types whose events some live endpoint receives (no list: every type)."""
    endpoints = sa.table("webhook_endpoints", sa.column("events", _json()),
                         sa.column("deleted_at", _instant))  # fmt: skip
    wanted: set[str] = set()
    query = sa.select(endpoints.c.events).where(endpoints.c.deleted_at.is_(None))
    for (events,) in op.get_bind().execute(query):
        wanted.update(_IMPLICIT if events is None else set(events) & set(_IMPLICIT))
    return sorted(_IMPLICIT[event] for event in wanted)


def _alert(
    customer_id: str, alert_type: str, currency: str, thresholds: list[str], now: datetime
) -> dict[str, Any]:
    return {"customer_id": customer_id, "id": _new_id(), "type": alert_type,
            "currency": currency, "enabled": True, "thresholds": thresholds,
            "created_at": now, "deleted_at": None}  # fmt: skip


def _insert(rows: Iterable[dict[str, Any]]) -> None:
    table, batch = _alerts_table(), []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            op.get_bind().execute(table.insert(), batch)
            batch = []
    if batch:
        op.get_bind().execute(table.insert(), batch)


def _flag_customers_with_alerts() -> None:
    customers = _customers_table(sa.column("balance_alerts", sa.Boolean))
    alerts = _alerts_table()
    has_alerts = sa.exists().where(alerts.c.customer_id == customers.c.id)
    op.get_bind().execute(sa.update(customers).where(has_alerts).values(balance_alerts=True))


def downgrade() -> None:
    """Back to thresholds on the customer row; depleted and recovered alerts are dropped
    (before 0007 those events fired for every ledger an endpoint wanted them for)."""
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("balance_alert_thresholds", _json(), nullable=True))
    alerts = _alerts_table()
    rows = op.get_bind().execute(
        sa.select(alerts.c.customer_id, alerts.c.currency, alerts.c.thresholds)
        .where(alerts.c.type == "credit_balance_dropped", alerts.c.deleted_at.is_(None))
        .order_by(alerts.c.customer_id, alerts.c.currency)
    )
    by_customer: dict[str, list[dict[str, str]]] = {}
    for customer_id, currency, thresholds in rows:
        by_customer.setdefault(customer_id, []).extend(
            {"currency": currency, "value": value} for value in thresholds
        )
    customers = _customers_table(sa.column("balance_alert_thresholds", _json()))
    for customer_id, thresholds in by_customer.items():
        op.get_bind().execute(
            sa.update(customers).where(customers.c.id == customer_id)
            .values(balance_alert_thresholds=thresholds)
        )  # fmt: skip
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("balance_alerts")
    op.drop_table("alerts")
