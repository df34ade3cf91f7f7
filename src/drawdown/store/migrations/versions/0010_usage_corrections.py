"""usage corrections: event status and origin, amendments kept, usage draws, backfills

`usage_events` gains `origin` (the backfill that brought an event, '' when ingested live;
part of the primary key, so a backfill can bring a new version of an event it replaces),
`status` (live, pending, deprecated, replaced, reverted, skipped) and the columns that say
when and why it changed; one live row per (customer, key) is a unique partial index.
Existing events are live, ingested live.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

import drawdown.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)
_LIVE, _KEPT = sa.text("status = 'live'"), sa.text("status != 'live'")
_STATUSES = "status IN ('live', 'pending', 'deprecated', 'replaced', 'reverted', 'skipped')"


def _decimal() -> drawdown.store.types.ExactDecimal:
    return drawdown.store.types.ExactDecimal(length=80)


def upgrade() -> None:
    _events()
    _amendments()
    _draws()
    _draws_of_past_deductions()
    _backfills()


def _events() -> None:
    op.drop_index("ix_usage_events_due", table_name="usage_events")
    op.drop_index("ix_usage_events_customer", table_name="usage_events")
    with op.batch_alter_table("usage_events", recreate="always") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=32), nullable=False,
                                   server_default=sa.text("''")))  # fmt: skip
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False,
                                   server_default=sa.text("'live'")))  # fmt: skip
        batch.add_column(sa.Column("changed_at", _instant, nullable=True))
        batch.add_column(sa.Column("replaced_by", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("amended_at", _instant, nullable=True))
        batch.drop_constraint("pk_usage_events", type_="primary")
        batch.create_primary_key("pk_usage_events", ["customer_id", "idempotency_key", "origin"])
        batch.create_check_constraint(op.f("ck_usage_events_status_known"), _STATUSES)
    op.create_index("ix_usage_events_due", "usage_events",
                    ["deduction_id", "status", "timestamp", "customer_id"])  # fmt: skip
    op.create_index("ix_usage_events_customer", "usage_events",
                    ["customer_id", "deduction_id", "status", "timestamp"])  # fmt: skip
    op.create_index("ix_usage_events_timeframe", "usage_events", ["timestamp", "customer_id"])
    op.create_index("ux_usage_events_live", "usage_events", ["idempotency_key", "customer_id"],
                    unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE)  # fmt: skip
    op.create_index("ix_usage_events_kept", "usage_events", ["idempotency_key"],
                    sqlite_where=_KEPT, postgresql_where=_KEPT)  # fmt: skip


def _amendments() -> None:
    op.create_table(
        "usage_event_amendments",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("event_name", sa.String(length=255), nullable=False),
        sa.Column("timestamp", _instant, nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("deduction_id", sa.String(length=32), nullable=True),
        sa.Column("amended_at", _instant, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_usage_event_amendments_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_usage_event_amendments")),
    )  # fmt: skip
    op.create_index("ix_usage_event_amendments_key", "usage_event_amendments",
                    ["customer_id", "idempotency_key", "amended_at"])  # fmt: skip


def _draws() -> None:
    op.create_table(
        "usage_draws",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("block_id", sa.String(length=32), nullable=False),
        sa.Column("drawn", _decimal(), nullable=False),
        sa.Column("returned", _decimal(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _instant, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "currency", "item_id", "block_id",
                                name=op.f("pk_usage_draws")),
    )  # fmt: skip


def _draws_of_past_deductions() -> None:
    """Where usage decrements written before this revision drew from (their metadata names
    the item), so a correction gives their credits back to those blocks too."""
    rows = op.get_bind().execute(sa.text(
        "SELECT customer_id, currency, block_id, seq, amount, metadata FROM ledger_entries "
        "WHERE entry_type = 'decrement' AND CAST(metadata AS TEXT) LIKE '%usage_item_id%'"
    )).all()  # fmt: skip
    draws: dict[tuple[str, str, str, str], list[Any]] = {}
    for customer_id, currency, block_id, seq, amount, metadata in rows:
        item_id = (json.loads(metadata) if isinstance(metadata, str) else metadata)["usage_item_id"]
        draw = draws.setdefault((customer_id, currency, item_id, block_id), [Decimal(0), 0])
        draw[0] += Decimal(str(amount))
        draw[1] = max(draw[1], int(seq))
    now = datetime.now(UTC)
    table = sa.table(
        "usage_draws", sa.column("customer_id"), sa.column("currency"), sa.column("item_id"),
        sa.column("block_id"), sa.column("drawn", _decimal()), sa.column("returned", _decimal()),
        sa.column("last_seq"), sa.column("updated_at", _instant),
    )  # fmt: skip
    values = [{"customer_id": c, "currency": cur, "item_id": i, "block_id": b,
               "drawn": drawn, "returned": Decimal(0), "last_seq": seq, "updated_at": now}
              for (c, cur, i, b), (drawn, seq) in sorted(draws.items())]  # fmt: skip
    if values:
        op.bulk_insert(table, values)


def _backfills() -> None:
    op.create_table(
        "usage_backfills",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("timeframe_start", _instant, nullable=False),
        sa.Column("timeframe_end", _instant, nullable=False),
        sa.Column("close_time", _instant, nullable=False),
        sa.Column("replace_existing_events", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("events_ingested", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("closed_at", _instant, nullable=True),
        sa.Column("reverted_at", _instant, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'reflected', 'pending_revert', 'reverted')",
                           name=op.f("ck_usage_backfills_status_known")),
        sa.CheckConstraint("timeframe_start < timeframe_end",
                           name=op.f("ck_usage_backfills_timeframe_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_backfills")),
    )  # fmt: skip
    op.create_index("ix_usage_backfills_created", "usage_backfills", ["created_at", "id"])
    op.create_index("ix_usage_backfills_status", "usage_backfills", ["status", "close_time"])


def downgrade() -> None:
    op.drop_table("usage_backfills")
    op.drop_table("usage_draws")
    op.drop_table("usage_event_amendments")
    for name in ("ix_usage_events_kept", "ux_usage_events_live", "ix_usage_events_timeframe",
                 "ix_usage_events_customer", "ix_usage_events_due"):  # fmt: skip
        op.drop_index(name, table_name="usage_events")
    with op.batch_alter_table("usage_events", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_usage_events_status_known"), type_="check")
        batch.drop_constraint("pk_usage_events", type_="primary")
        batch.create_primary_key("pk_usage_events", ["customer_id", "idempotency_key"])
        for name in ("amended_at", "replaced_by", "changed_at", "status", "origin"):
            batch.drop_column(name)
    op.create_index("ix_usage_events_due", "usage_events",
                    ["deduction_id", "timestamp", "customer_id"])  # fmt: skip
    op.create_index("ix_usage_events_customer", "usage_events",
                    ["customer_id", "deduction_id", "timestamp"])  # fmt: skip
