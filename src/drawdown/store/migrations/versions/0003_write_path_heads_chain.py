"""ledger heads in columns, external-id table, per-customer uniques, entry hash chain

The one-transaction write path reads one ledger head instead of aggregates (last command
position, next due expiry, active top-up, chain head); external ids get their own keyed
table and unique constraints include the customer, so the schema can be sharded by
customer; every entry gets its chain hash (computed here for existing ledgers); blocks
remember the credits their expiry removed (R-VOID-1); invoice numbers come from a
sequence on PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

import drawdown.store.types
from drawdown.ledger import chain

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)
_decimal = drawdown.store.types.ExactDecimal()


def upgrade() -> None:
    _customers_and_aliases()
    _ledger_heads()
    _blocks()
    _entries()
    _invoices_and_top_ups()
    _backfill()


def _customers_and_aliases() -> None:
    op.create_table(
        "customer_external_ids",
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("external_customer_id", name=op.f("pk_customer_external_ids")),
    )
    op.execute(
        "INSERT INTO customer_external_ids (external_customer_id, customer_id) "
        "SELECT external_customer_id, id FROM customers "
        "WHERE deleted_at IS NULL AND external_customer_id IS NOT NULL"
    )
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("overdraft", sa.String(length=16), nullable=True))
        batch.drop_index("uq_customers_live_external_id")


def _ledger_heads() -> None:
    with op.batch_alter_table("ledgers") as batch:
        batch.add_column(
            sa.Column("last_position", sa.BigInteger(), server_default=sa.text("0"),
                      nullable=False)
        )  # fmt: skip
        batch.add_column(sa.Column("next_expiry_at", _instant, nullable=True))
        batch.add_column(sa.Column("top_up_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("chain_head", sa.String(length=64), nullable=True))
        batch.create_index("ix_ledgers_next_expiry", ["next_expiry_at"], unique=False)


def _blocks() -> None:
    with op.batch_alter_table("credit_blocks") as batch:
        batch.add_column(
            sa.Column("expired", _decimal, server_default=sa.text("'0'"), nullable=False)
        )
        batch.drop_constraint("uq_credit_blocks_id", type_="unique")
        batch.drop_index("ix_credit_blocks_ledger")
        batch.create_index(
            "ix_credit_blocks_ledger", ["customer_id", "currency", "closed"], unique=False
        )
        batch.create_index("ix_credit_blocks_id", ["id"], unique=False)


def _entries() -> None:
    order = ["created_at", "seq", "id"]
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("amount_key", sa.String(length=48), nullable=True))
        batch.create_index("ix_ledger_entries_amount", ["customer_id", "amount_key"], unique=False)
        batch.drop_index("ix_ledger_entries_listing")
        batch.create_index("ix_ledger_entries_listing", ["customer_id", *order], unique=False)
        batch.create_index(
            "ix_ledger_entries_currency", ["customer_id", "currency", *order], unique=False
        )
        batch.create_index(
            "ix_ledger_entries_type", ["customer_id", "entry_type", *order], unique=False
        )
        batch.create_index("ix_ledger_entries_block", ["customer_id", "block_id"], unique=False)


def _invoices_and_top_ups() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint("uq_invoices_id", type_="unique")
        batch.drop_constraint("uq_invoices_invoice_number", type_="unique")
        batch.create_unique_constraint(
            op.f("uq_invoices_customer_id_invoice_number"), ["customer_id", "invoice_number"]
        )
        batch.create_index("ix_invoices_id", ["id"], unique=False)
        batch.create_index("ix_invoices_block", ["customer_id", "block_id"], unique=False)
    with op.batch_alter_table("top_ups") as batch:
        batch.drop_constraint("uq_top_ups_id", type_="unique")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        current = bind.execute(
            sa.text("SELECT value FROM counters WHERE name = 'invoice_number'")
        ).scalar()
        op.execute(f"CREATE SEQUENCE invoice_numbers START WITH {int(current or 0) + 1}")


# --- data ------------------------------------------------------------------------------------

_meta = sa.MetaData()
_ledgers = sa.Table(
    "ledgers", _meta, sa.Column("customer_id"), sa.Column("currency"),
    sa.Column("last_position"), sa.Column("next_expiry_at", _instant),
    sa.Column("top_up_id"), sa.Column("chain_head"),
)  # fmt: skip
_blocks_t = sa.Table(
    "credit_blocks", _meta, sa.Column("customer_id"), sa.Column("id"), sa.Column("currency"),
    sa.Column("expiry_date", _instant), sa.Column("closed"), sa.Column("deleted_at", _instant),
    sa.Column("expired", _decimal),
)  # fmt: skip
_entries_t = sa.Table(
    "ledger_entries", _meta,
    *(sa.Column(name) for name in ("customer_id", "id", "currency", "seq", "entry_type",
                                   "block_id", "description", "void_reason", "hash",
                                   "amount_key")),
    *(sa.Column(name, _decimal) for name in ("amount", "starting_balance", "ending_balance",
                                             "void_amount")),
    sa.Column("created_at", _instant), sa.Column("new_block_expiry_date", _instant),
    sa.Column("metadata", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
)  # fmt: skip
_commands = sa.Table(
    "ledger_commands", _meta, sa.Column("customer_id"), sa.Column("currency"),
    sa.Column("position"),
)  # fmt: skip
_top_ups = sa.Table(
    "top_ups", _meta, sa.Column("customer_id"), sa.Column("id"), sa.Column("currency"),
    sa.Column("created_at", _instant), sa.Column("deactivated_at", _instant),
)  # fmt: skip


def _backfill() -> None:
    bind = op.get_bind()
    # Closed now means "expired with a zero balance": expired deficits are open again.
    negative = "balance < 0" if bind.dialect.name == "postgresql" else "balance LIKE '-%'"
    op.execute(f"UPDATE credit_blocks SET closed = false WHERE closed AND {negative}")
    for customer_id, currency in bind.execute(sa.select(_ledgers.c.customer_id,
                                                        _ledgers.c.currency)).all():  # fmt: skip
        _backfill_ledger(bind, customer_id, currency)
    _backfill_expired(bind)
    _backfill_amount_keys(bind)
    with op.batch_alter_table("ledger_entries") as batch:
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("amount_key", existing_type=sa.String(length=48), nullable=False)


def _backfill_ledger(bind: Any, customer_id: str, currency: str) -> None:
    key = {"customer_id": customer_id, "currency": currency}
    position = bind.execute(
        sa.select(sa.func.coalesce(sa.func.max(_commands.c.position), 0)).filter_by(**key)
    ).scalar_one()
    next_expiry = bind.execute(
        sa.select(sa.func.min(_blocks_t.c.expiry_date))
        .filter_by(**key)
        .where(_blocks_t.c.closed.is_(False), _blocks_t.c.deleted_at.is_(None))
    ).scalar()
    top_up = bind.execute(
        sa.select(_top_ups.c.id).filter_by(**key).where(_top_ups.c.deactivated_at.is_(None))
        .order_by(_top_ups.c.created_at.desc()).limit(1)
    ).scalar()  # fmt: skip
    head = _chain(bind, customer_id, currency)
    bind.execute(
        _ledgers.update().filter_by(**key).values(
            last_position=int(position), next_expiry_at=next_expiry, top_up_id=top_up,
            chain_head=head,
        )
    )  # fmt: skip


def _chain(bind: Any, customer_id: str, currency: str) -> str:
    previous = chain.genesis(customer_id, currency)
    rows = bind.execute(
        sa.select(_entries_t)
        .where(_entries_t.c.customer_id == customer_id, _entries_t.c.currency == currency)
        .order_by(_entries_t.c.seq)
    ).mappings().all()  # fmt: skip
    for row in rows:
        previous = chain.digest(
            previous, entry_id=row["id"], currency=row["currency"], seq=int(row["seq"]),
            entry_type=row["entry_type"], amount=row["amount"],
            starting_balance=row["starting_balance"], ending_balance=row["ending_balance"],
            block_id=row["block_id"], created_at=_utc(row["created_at"]),
            description=row["description"], metadata=dict(row["metadata"] or {}),
            void_amount=row["void_amount"], void_reason=row["void_reason"],
            new_block_expiry_date=_utc(row["new_block_expiry_date"]),
        )  # fmt: skip
        bind.execute(
            _entries_t.update()
            .where(_entries_t.c.customer_id == customer_id, _entries_t.c.id == row["id"])
            .values(hash=previous)
        )
    return previous


def _utc(value: datetime | None) -> Any:
    return None if value is None else value.astimezone(UTC)


def _backfill_expired(bind: Any) -> None:
    expiries = bind.execute(
        sa.select(_entries_t.c.customer_id, _entries_t.c.block_id, _entries_t.c.amount).where(
            _entries_t.c.entry_type == "credit_block_expiry"
        )
    ).all()
    for customer_id, block_id, amount in expiries:
        bind.execute(
            _blocks_t.update()
            .where(_blocks_t.c.customer_id == customer_id, _blocks_t.c.id == block_id)
            .values(expired=Decimal(amount))
        )


def _backfill_amount_keys(bind: Any) -> None:
    from drawdown.store.ledger_tables import amount_key

    rows = bind.execute(
        sa.select(_entries_t.c.customer_id, _entries_t.c.id, _entries_t.c.amount)
    ).all()
    for customer_id, entry_id, amount in rows:
        bind.execute(
            _entries_t.update()
            .where(_entries_t.c.customer_id == customer_id, _entries_t.c.id == entry_id)
            .values(amount_key=amount_key(Decimal(amount)))
        )


def downgrade() -> None:
    raise NotImplementedError("0003 is not reversible; restore a backup taken before it")
