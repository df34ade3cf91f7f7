"""serving processes and the last run of operator commands, for `drawdown status`

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import drawdown.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = drawdown.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "server_processes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("started_at", instant, nullable=False),
        sa.Column("seen_at", instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_processes")),
    )
    with op.batch_alter_table("server_processes") as batch:
        batch.create_index("ix_server_processes_seen", ["seen_at"], unique=False)
    op.create_table(
        "command_runs",
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("started_at", instant, nullable=False),
        sa.Column("finished_at", instant, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("command", name=op.f("pk_command_runs")),
    )


def downgrade() -> None:
    op.drop_table("command_runs")
    op.drop_table("server_processes")
