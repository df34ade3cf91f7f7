"""Billable metrics (Orb's `metrics.*`): which events a price counts, and how.

A metric is SQL in the subset drawdown prices (`ledger/metric_sql.py`); anything else is a
`400` on `sql` that says what is supported. The definition never changes after creation
(Orb's update takes name, description and metadata only), so every price version copies it
and prices from its own row. Archiving only hides the metric from new prices; prices that
use it go on pricing (Orb: "usage on those prices continues to be billed").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drawdown.ledger.metric_sql import MetricDefinition, parse_metric_sql
from drawdown.ledger.usage import filters_text
from drawdown.services import metadata as meta
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.usage.items import NAME_LENGTH_MAX, check_room, text
from drawdown.services.write_path import Work, work
from drawdown.store import catalogue as store
from drawdown.store.catalogue import CatalogueItem, MetricRecord
from drawdown.store.tx import Tx

__all__ = ["MetricRecord", "create_metric", "fetch_metric", "list_metrics"]

DESCRIPTION_LENGTH_MAX = 1000
LIST_ALL_MAX = 10_000  # `drawdown metrics list` shows at most this many
STATUSES = ("active", "archived")


def create_metric(ctx: ServiceContext, fields: Mapping[str, Any]) -> Work[MetricRecord]:
    """Orb's `metrics.create`: `name`, `sql`, `item_id`, `description`, `metadata`."""
    name = text(fields.get("name"), "name", NAME_LENGTH_MAX)
    definition = parse_metric_sql(str(fields.get("sql") or ""))
    description = _description(fields.get("description"))
    meta.validate(fields.get("metadata"), ctx.settings)
    metadata = meta.on_create(fields.get("metadata"))
    item_id = text(fields.get("item_id"), "item_id", 255)
    new_id = ctx.new_id()

    def body(tx: Tx, now: datetime) -> MetricRecord:
        item = usable_item(tx, item_id)
        check_room(tx, "metrics")
        record = MetricRecord(new_id, item, name, description, str(fields["sql"]),
                              definition.event_name, definition.metric, "active", metadata,
                              now)  # fmt: skip
        store.insert_metric(tx, record, filters_text(definition.metric.filters))
        return record

    return work(body)


def usable_item(tx: Tx, item_id: str) -> CatalogueItem:
    """The item a new metric or price is for, locked: it must exist and not be archived."""
    item = store.lock_item(tx, item_id)
    if item is None:
        raise ResourceNotFound("Item", item_id)
    if item.archived_at is not None:
        raise ConstraintViolation("item_id", f"item {item_id!r} is archived")
    return item


def metric_for(
    tx: Tx, item: CatalogueItem, definition: MetricDefinition, now: datetime, new_id: str
) -> MetricRecord:
    """The active metric of ``item`` with this definition, made if there is none (what a
    price from the CLI or the console's event-name form counts)."""
    ftext = filters_text(definition.metric.filters)
    found = store.find_metric(tx, item.id, definition.event_name, str(definition.metric), ftext)
    if found is not None:
        return found
    check_room(tx, "metrics")
    name = f"{definition.event_name} {definition.metric}"[:NAME_LENGTH_MAX]
    record = MetricRecord(new_id, item, name, None, definition.sql(), definition.event_name,
                          definition.metric, "active", {}, now)  # fmt: skip
    store.insert_metric(tx, record, ftext)
    return record


def _description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > DESCRIPTION_LENGTH_MAX:
        raise InvalidField("description", f"must be at most {DESCRIPTION_LENGTH_MAX} characters")
    return value


def fetch_metric(ctx: ServiceContext, metric_id: str) -> MetricRecord:
    with ctx.db.read() as tx:
        return found(store.metric(tx, metric_id), metric_id)


def found(record: MetricRecord | None, metric_id: str) -> MetricRecord:
    if record is None:
        raise ResourceNotFound("BillableMetric", metric_id)
    return record


def list_metrics(
    ctx: ServiceContext,
    status: str | None,
    created_at: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[MetricRecord]:
    if status is not None and status not in (*STATUSES, "draft"):
        raise InvalidField("status", "must be active, archived or draft")
    with ctx.db.read() as tx:
        return store.metrics_page(tx, status=status, created_at_filters=created_at,
                                  after=after, limit=limit)  # fmt: skip


def update_metric(
    ctx: ServiceContext, metric_id: str, fields: Mapping[str, Any]
) -> Work[MetricRecord]:
    """Orb's `metrics.update`: fields not sent are kept; `name` cannot be empty."""
    values: dict[str, Any] = {}
    if fields.get("name") is not None:
        values["name"] = text(fields["name"], "name", NAME_LENGTH_MAX)
    if "description" in fields:
        values["description"] = _description(fields["description"])
    if "metadata" in fields:
        meta.validate(fields["metadata"], ctx.settings)

    def body(tx: Tx, _now: datetime) -> MetricRecord:
        record = found(store.metric(tx, metric_id), metric_id)
        if "metadata" in fields:
            values["metadata"] = meta.updated(record.metadata, fields["metadata"], ctx.settings)
        store.update_metric(tx, metric_id, values)
        return found(store.metric(tx, metric_id), metric_id)

    return work(body)


def set_status(metric_id: str, status: str) -> Work[MetricRecord]:
    """Archive (`archived`) or unarchive (`active`); Orb refuses a change to the same status."""

    def body(tx: Tx, _now: datetime) -> MetricRecord:
        record = found(store.metric(tx, metric_id), metric_id)
        if record.status == status:
            raise ConstraintViolation("metric_id", f"metric {metric_id!r} is {status} already")
        store.update_metric(tx, metric_id, {"status": status})
        return found(store.metric(tx, metric_id), metric_id)

    return work(body)
