"""usage: the price catalogue (items, versioned prices), accepted events, deduction carry

Events are kept per customer and deduplicated by (customer, idempotency key); an event's
`deduction_id` is set in the transaction that writes its decrement entries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import drawdown.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)


def _decimal() -> drawdown.store.types.ExactDecimal:
    return drawdown.store.types.ExactDecimal(length=80)


def upgrade() -> None:
    _catalogue()
    _events()


def _catalogue() -> None:
    op.create_table(
        "usage_items",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_items")),
    )
    op.create_table(
        "usage_prices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("event_name", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=300), nullable=False),
        sa.Column("credits_per_unit", _decimal(), nullable=False),
        sa.Column("effective_from", _instant, nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["usage_items.id"], name=op.f("fk_usage_prices_item_id_usage_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_prices")),
    )
    op.create_index(
        "ix_usage_prices_event", "usage_prices", ["event_name", "item_id", "effective_from"]
    )


def _events() -> None:
    op.create_table(
        "usage_events",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("event_name", sa.String(length=255), nullable=False),
        sa.Column("timestamp", _instant, nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("accepted_at", _instant, nullable=False),
        sa.Column("deduction_id", sa.String(length=32), nullable=True),
        sa.Column("deducted_at", _instant, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_usage_events_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", "idempotency_key", name=op.f("pk_usage_events")),
    )
    op.create_index(
        "ix_usage_events_due", "usage_events", ["deduction_id", "timestamp", "customer_id"]
    )
    op.create_index(
        "ix_usage_events_customer", "usage_events", ["customer_id", "deduction_id", "timestamp"]
    )
    op.create_table(
        "usage_carry",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("carried", _decimal(), nullable=False),
        sa.Column("updated_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "currency", "item_id", name=op.f("pk_usage_carry")),
    )


def downgrade() -> None:
    op.drop_table("usage_carry")
    op.drop_table("usage_events")
    op.drop_table("usage_prices")
    op.drop_table("usage_items")
