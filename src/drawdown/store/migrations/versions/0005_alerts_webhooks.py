"""balance alerts and webhooks: endpoints, the event outbox, attempts, alert state

Per-customer `credit_balance_dropped` thresholds live on the customer row (read with it on
every write); events are written in the transaction of the ledger change that caused them;
deliveries are claimed with a lease; every attempt is kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import drawdown.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=32), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("balance_alert_thresholds", _json(), nullable=True))
    _endpoints_and_events()
    _deliveries_and_attempts()
    _alert_state()


def _endpoints_and_events() -> None:
    op.create_table(
        "webhook_endpoints",
        _id("id"),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("events", _json(), nullable=True),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("deleted_at", _instant, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_events",
        _id("customer_id"),
        _id("id"),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=64), nullable=True),
        sa.Column("properties", _json(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", _instant, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_webhook_events_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_webhook_events")),
    )  # fmt: skip
    op.create_index("ix_webhook_events_created", "webhook_events", ["created_at"])
    op.create_index("ix_webhook_events_id", "webhook_events", ["id"])


def _deliveries_and_attempts() -> None:
    op.create_table(
        "webhook_deliveries",
        _id("customer_id"),
        _id("event_id"),
        _id("endpoint_id"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _instant, nullable=True),
        sa.Column("lease_until", _instant, nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("delivered_at", _instant, nullable=True),
        sa.Column("created_at", _instant, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')",
                           name=op.f("ck_webhook_deliveries_status_known")),
        sa.CheckConstraint("attempts >= 0",
                           name=op.f("ck_webhook_deliveries_attempts_not_negative")),
        sa.ForeignKeyConstraint(["customer_id", "event_id"],
                                ["webhook_events.customer_id", "webhook_events.id"],
                                name=op.f("fk_webhook_deliveries_customer_id_webhook_events")),
        sa.PrimaryKeyConstraint("customer_id", "event_id", "endpoint_id",
                                name=op.f("pk_webhook_deliveries")),
    )  # fmt: skip
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "created_at"]
    )
    op.create_table(
        "webhook_attempts",
        _id("customer_id"),
        _id("id"),
        _id("event_id"),
        _id("endpoint_id"),
        sa.Column("attempted_at", _instant, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_event", "webhook_attempts", ["customer_id", "event_id", "attempted_at"]
    )
    op.create_index(
        "ix_webhook_attempts_endpoint", "webhook_attempts", ["endpoint_id", "attempted_at"]
    )


def _alert_state() -> None:
    op.create_table(
        "balance_alert_status",
        _id("customer_id"),
        sa.Column("currency", sa.String(length=64), nullable=False),
        sa.Column("depleted", sa.Boolean(), nullable=False),
        sa.Column("below", _json(), nullable=False),
        sa.Column("updated_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "currency", name=op.f("pk_balance_alert_status")),
    )
    op.create_table(
        "expiry_notices",
        _id("customer_id"),
        _id("block_id"),
        _id("event_id"),
        sa.Column("created_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "block_id", name=op.f("pk_expiry_notices")),
    )


def downgrade() -> None:
    for table in ("expiry_notices", "balance_alert_status", "webhook_attempts",
                  "webhook_deliveries", "webhook_events", "webhook_endpoints"):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("balance_alert_thresholds")
