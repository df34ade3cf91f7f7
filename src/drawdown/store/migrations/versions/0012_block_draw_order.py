"""blocks in drawdown order: a draw key per block, indexed with the ledger's open blocks

A decrement reads its ledger's open blocks in drawdown order (R-DED-2), only as many as it
draws from, instead of every open block (issue 23). The key is computed here for the blocks
that exist (the same encoding as store/ledger_tables.draw_key, kept here as it is today so this
migration does not change when that code does); the index replaces ix_credit_blocks_ledger,
whose columns are its prefix.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


def _instant(value: object) -> datetime:
    if isinstance(value, str):  # SQLite stores naive UTC text
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _micros(value: object) -> str:
    return f"{(_instant(value) - _YEAR_ONE) // timedelta(microseconds=1):018d}"


def _key(expiry: object, basis: str | None, effective: object, seq: int, block_id: str) -> str:
    expiring = "2" + "0" * 18 if expiry is None else "1" + _micros(expiry)
    cost = int(Decimal(basis or "0").scaleb(12))
    return f"{expiring}{cost:030d}{_micros(effective)}{int(seq):020d}{block_id}"


def upgrade() -> None:
    key_type = sa.String(length=128).with_variant(sa.String(128, collation="C"), "postgresql")
    with op.batch_alter_table("credit_blocks") as batch:
        batch.add_column(sa.Column("draw_key", key_type, nullable=False, server_default=""))
    blocks = sa.table(
        "credit_blocks", sa.column("customer_id"), sa.column("id"), sa.column("expiry_date"),
        sa.column("per_unit_cost_basis"), sa.column("effective_date"),
        sa.column("created_seq"), sa.column("draw_key"),
    )  # fmt: skip
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(blocks.c.customer_id, blocks.c.id, blocks.c.expiry_date,
                  blocks.c.per_unit_cost_basis, blocks.c.effective_date, blocks.c.created_seq)
    ).all()  # fmt: skip
    keyed = [{"c": r[0], "i": r[1], "k": _key(r[2], r[3], r[4], r[5], r[1])} for r in rows]
    if keyed:
        conn.execute(
            blocks.update()
            .where(blocks.c.customer_id == sa.bindparam("c"), blocks.c.id == sa.bindparam("i"))
            .values(draw_key=sa.bindparam("k")),
            keyed,
        )
    with op.batch_alter_table("credit_blocks") as batch:
        batch.alter_column("draw_key", server_default=None, existing_type=key_type,
                           existing_nullable=False)  # fmt: skip
        batch.drop_index("ix_credit_blocks_ledger")
        batch.create_index(
            "ix_credit_blocks_draw", ["customer_id", "currency", "closed", "draw_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_blocks") as batch:
        batch.drop_index("ix_credit_blocks_draw")
        batch.create_index("ix_credit_blocks_ledger", ["customer_id", "currency", "closed"])
        batch.drop_column("draw_key")
