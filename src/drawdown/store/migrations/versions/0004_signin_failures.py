"""console sign-in failures in the database, shared by every server process

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import drawdown.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failed_at", drawdown.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_failures")),
    )
    with op.batch_alter_table("signin_failures") as batch:
        batch.create_index("ix_signin_failures_key", ["key", "failed_at"], unique=False)
        batch.create_index("ix_signin_failures_failed_at", ["failed_at"], unique=False)


def downgrade() -> None:
    op.drop_table("signin_failures")
