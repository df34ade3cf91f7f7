"""credit notes, invoice metadata and drafts, the customer's cash balance

Invoices get metadata, the instant they were issued (backfilled: every existing invoice was
issued at creation), their net terms and the sum credited by credit notes; credit notes and
their line items get tables, and so does the cash balance's own ledger, whose newest ending
balance is cached on the customer. Credit-note numbers come from a sequence on PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import drawdown.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)
_json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _decimal() -> drawdown.store.types.ExactDecimal:
    return drawdown.store.types.ExactDecimal(length=80)


def upgrade() -> None:
    _customers_and_invoices()
    _credit_notes()
    _balance_transactions()


def _customers_and_invoices() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("cash_balance", _decimal(), server_default=sa.text("'0'"), nullable=False)
        )
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(
            sa.Column("metadata", _json, server_default=sa.text("'{}'"), nullable=False)
        )
        batch.add_column(sa.Column("issued_at", _instant, nullable=True))
        batch.add_column(sa.Column("net_terms", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("credited", _decimal(), server_default=sa.text("'0'"), nullable=False)
        )
        batch.create_index("ix_invoices_line_item", ["line_item_id"], unique=False)
    op.execute("UPDATE invoices SET issued_at = created_at WHERE status <> 'draft'")


def _credit_notes() -> None:
    op.create_table(
        "credit_notes",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("credit_note_number", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("total", _decimal(), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.Column("voided_at", _instant, nullable=True),
        sa.CheckConstraint(
            "type IN ('refund', 'adjustment')", name=op.f("ck_credit_notes_type_known")
        ),
        sa.CheckConstraint(
            "reason IN ('duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory')",
            name=op.f("ck_credit_notes_reason_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id", "invoice_id"],
            ["invoices.customer_id", "invoices.id"],
            name=op.f("fk_credit_notes_customer_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint(
            "customer_id",
            "credit_note_number",
            name=op.f("uq_credit_notes_customer_id_credit_note_number"),
        ),
    )
    op.create_index("ix_credit_notes_listing", "credit_notes", ["created_at", "id"])
    op.create_index("ix_credit_notes_id", "credit_notes", ["id"])
    op.create_index("ix_credit_notes_invoice", "credit_notes", ["customer_id", "invoice_id"])
    op.create_table(
        "credit_note_line_items",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("credit_note_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("invoice_line_item_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("start_at", _instant, nullable=False),
        sa.Column("end_at", _instant, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id", "credit_note_id"],
            ["credit_notes.customer_id", "credit_notes.id"],
            name=op.f("fk_credit_note_line_items_customer_id_credit_notes"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_credit_note_line_items")),
        sa.UniqueConstraint(
            "customer_id",
            "credit_note_id",
            "position",
            name=op.f("uq_credit_note_line_items_customer_id_credit_note_id_position"),
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE credit_note_numbers")


def _balance_transactions() -> None:
    op.create_table(
        "customer_balance_transactions",
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("starting_balance", _decimal(), nullable=False),
        sa.Column("ending_balance", _decimal(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("invoice_id", sa.String(length=32), nullable=True),
        sa.Column("credit_note_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", _instant, nullable=False),
        sa.CheckConstraint(
            "type IN ('increment', 'decrement')",
            name=op.f("ck_customer_balance_transactions_type_known"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_customer_balance_transactions_seq_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_balance_transactions_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "id", name=op.f("pk_customer_balance_transactions")),
        sa.UniqueConstraint(
            "customer_id", "seq", name=op.f("uq_customer_balance_transactions_customer_id_seq")
        ),
    )
    op.create_index(
        "ix_customer_balance_transactions_invoice",
        "customer_balance_transactions",
        ["customer_id", "invoice_id"],
    )
