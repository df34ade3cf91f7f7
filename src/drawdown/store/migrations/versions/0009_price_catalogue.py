"""price catalogue over the API: Orb's items, billable metrics and unit prices

Items gain metadata, external connections and archiving; billable metrics are new (SQL in
the subset drawdown prices); a price version gains Orb's fields, its metric's property
filters, the metric it prices and the version it replaces, and `effective_until` (set when
a later version supersedes it or its item is archived). Existing prices keep their meaning:
each distinct (item, event name, metric) gets a billable metric, and each version ends
where the next version of its (item, event name) line starts, as the catalogue read them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import drawdown.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_instant = drawdown.store.types.UTCDateTime(timezone=True)
_ALPHABET = string.ascii_letters + string.digits


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    _items()
    _metrics()
    _prices()
    op.create_index(
        "ix_usage_events_time", "usage_events", ["customer_id", "timestamp", "idempotency_key"]
    )


def _items() -> None:
    with op.batch_alter_table("usage_items") as batch:
        batch.add_column(sa.Column("metadata", _json(), nullable=True))
        batch.add_column(sa.Column("external_connections", _json(), nullable=True))
        batch.add_column(sa.Column("archived_at", _instant, nullable=True))
    items = sa.table("usage_items", sa.column("metadata", _json()),
                     sa.column("external_connections", _json()))  # fmt: skip
    op.get_bind().execute(items.update().values(metadata={}, external_connections=[]))
    with op.batch_alter_table("usage_items") as batch:
        batch.alter_column("metadata", existing_type=_json(), nullable=False)
        batch.alter_column("external_connections", existing_type=_json(), nullable=False)
        batch.create_index("ix_usage_items_created", ["created_at", "id"])


def _metrics() -> None:
    op.create_table(
        "usage_metrics",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("event_name", sa.String(length=255), nullable=False),
        sa.Column("metric", sa.String(length=300), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("created_at", _instant, nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'archived')", name=op.f("ck_usage_metrics_status")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["usage_items.id"], name=op.f("fk_usage_metrics_item_id_usage_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_metrics")),
    )
    op.create_index("ix_usage_metrics_created", "usage_metrics", ["created_at", "id"])


_NEW_PRICE_COLUMNS = (
    ("filters", sa.Text()), ("effective_until", _instant),
    ("billable_metric_id", sa.String(length=32)), ("replaces_price_id", sa.String(length=32)),
    ("name", sa.String(length=255)), ("cadence", sa.String(length=16)),
    ("cycle_duration", sa.Integer()), ("cycle_unit", sa.String(length=8)),
    ("external_price_id", sa.String(length=255)), ("metadata", _json()),
)  # fmt: skip
_REQUIRED = ("filters", "name", "cadence", "cycle_duration", "cycle_unit", "metadata")


def _prices() -> None:
    with op.batch_alter_table("usage_prices") as batch:
        for name, type_ in _NEW_PRICE_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    _fill_prices()
    with op.batch_alter_table("usage_prices") as batch:
        for name, type_ in _NEW_PRICE_COLUMNS:
            if name in _REQUIRED:
                batch.alter_column(name, existing_type=type_, nullable=False)
        batch.create_unique_constraint(
            op.f("uq_usage_prices_external_price_id"), ["external_price_id"]
        )
        batch.create_foreign_key(
            op.f("fk_usage_prices_billable_metric_id_usage_metrics"), "usage_metrics",
            ["billable_metric_id"], ["id"],
        )  # fmt: skip
        batch.create_index("ix_usage_prices_created", ["created_at", "id"])


def _fill_prices() -> None:
    """Give each existing (item, event name, metric) a billable metric, and each version its
    Orb fields and the end of its window, in the order the catalogue priced them."""
    bind = op.get_bind()
    query = sa.text(
        "SELECT p.id, p.item_id, p.event_name, p.metric, p.effective_from, p.created_at, "
        "i.name AS item_name FROM usage_prices p JOIN usage_items i ON i.id = p.item_id"
    ).columns(effective_from=_instant, created_at=_instant)
    rows = bind.execute(query).mappings().all()
    metric_ids = _create_metrics(bind, rows)
    prices = sa.table(
        "usage_prices", sa.column("id"), sa.column("filters"),
        sa.column("effective_until", _instant),
        sa.column("billable_metric_id"), sa.column("replaces_price_id"), sa.column("name"),
        sa.column("cadence"), sa.column("cycle_duration"), sa.column("cycle_unit"),
        sa.column("metadata", _json()),
    )  # fmt: skip
    for price_id, until, replaces in _windows(rows):
        row = next(r for r in rows if r["id"] == price_id)
        bind.execute(prices.update().where(prices.c.id == price_id).values(
            filters="[]", effective_until=until, replaces_price_id=replaces,
            billable_metric_id=metric_ids[(row["item_id"], row["event_name"], row["metric"])],
            name=row["item_name"], cadence="monthly", cycle_duration=1, cycle_unit="month",
            metadata={},
        ))  # fmt: skip


def _create_metrics(bind: Any, rows: Iterable[Any]) -> dict[tuple[str, str, str], str]:
    metrics = sa.table(
        "usage_metrics", sa.column("id"), sa.column("item_id"), sa.column("name"),
        sa.column("description"), sa.column("sql"), sa.column("event_name"),
        sa.column("metric"), sa.column("filters"), sa.column("status"),
        sa.column("metadata", _json()), sa.column("created_at", _instant),
    )  # fmt: skip
    ids: dict[tuple[str, str, str], str] = {}
    for row in sorted(rows, key=lambda r: (r["created_at"], r["id"])):
        key = (row["item_id"], row["event_name"], row["metric"])
        if key in ids:
            continue
        ids[key] = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        bind.execute(metrics.insert().values(
            id=ids[key], item_id=key[0], name=f"{key[1]} {key[2]}", description=None,
            sql=_sql(key[1], key[2]), event_name=key[1], metric=key[2], filters="[]",
            status="active", metadata={}, created_at=row["created_at"],
        ))  # fmt: skip
    return ids


def _windows(rows: Iterable[Any]) -> list[tuple[str, datetime | None, str | None]]:
    """(price id, effective_until, replaces_price_id) per version: lines were (event name,
    item), ordered by (effective_from, id)."""
    lines: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        lines.setdefault((row["event_name"], row["item_id"]), []).append(row)
    result = []
    for line in lines.values():
        line.sort(key=lambda r: (r["effective_from"], r["id"]))
        for index, row in enumerate(line):
            following = line[index + 1]["effective_from"] if index + 1 < len(line) else None
            previous = line[index - 1]["id"] if index else None
            result.append((row["id"], following, previous))
    return result


def _sql(event_name: str, metric: str) -> str:
    where = "event_name = '" + event_name.replace("'", "''") + "'"
    if metric == "count":
        return f"SELECT COUNT(*) FROM events WHERE {where}"
    name = metric.partition(":")[2]
    return f'SELECT SUM("{name.replace(chr(34), chr(34) * 2)}") FROM events WHERE {where}'


def downgrade() -> None:
    op.drop_index("ix_usage_events_time", table_name="usage_events")
    with op.batch_alter_table("usage_prices") as batch:
        batch.drop_index("ix_usage_prices_created")
        batch.drop_constraint(op.f("fk_usage_prices_billable_metric_id_usage_metrics"),
                              type_="foreignkey")  # fmt: skip
        batch.drop_constraint(op.f("uq_usage_prices_external_price_id"), type_="unique")
        for name, _ in _NEW_PRICE_COLUMNS:
            batch.drop_column(name)
    op.drop_index("ix_usage_metrics_created", table_name="usage_metrics")
    op.drop_table("usage_metrics")
    with op.batch_alter_table("usage_items") as batch:
        batch.drop_index("ix_usage_items_created")
        for name in ("archived_at", "external_connections", "metadata"):
            batch.drop_column(name)
