"""SQL for the price catalogue as Orb's resources: items, billable metrics, price versions.

Pricing reads the catalogue whole (`store/usage.prices`); this module serves the API's and
the console's views of it and the writes that change it. A price line (item, event name,
filters) has at most one open version (`effective_until` null): the use case that appends
a version first locks the item's row (`lock_item`), so two writers never both extend the
same line on PostgreSQL (SQLite runs one writer at a time anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, or_, select, update

from drawdown.ledger.usage import Metric, PriceVersion, parse_filters_text, parse_metric
from drawdown.store.schema import usage_items, usage_metrics, usage_prices
from drawdown.store.sqlfuncs import before, compare
from drawdown.store.tx import Tx

_i, _m, _p = usage_items.c, usage_metrics.c, usage_prices.c


@dataclass(frozen=True)
class CatalogueItem:
    """An item as Orb shows it (what block filters and usage entries name)."""

    id: str
    name: str
    created_at: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)
    external_connections: Sequence[Mapping[str, str]] = ()
    archived_at: datetime | None = None


@dataclass(frozen=True)
class MetricRecord:
    """A billable metric: Orb's fields and what its SQL means (event name, metric)."""

    id: str
    item: CatalogueItem
    name: str
    description: str | None
    sql: str
    event_name: str
    metric: Metric
    status: str
    metadata: Mapping[str, str]
    created_at: datetime


@dataclass(frozen=True)
class PriceRecord:
    """A price version (what pricing uses) with the fields Orb's Price object shows."""

    version: PriceVersion
    item_name: str
    name: str
    cadence: str
    cycle: tuple[int, str]  # billing_cycle_configuration: (duration, "day" | "month")
    external_price_id: str | None
    metadata: Mapping[str, str]
    created_at: datetime
    billable_metric_id: str | None
    replaces_price_id: str | None

    @property
    def id(self) -> str:
        return self.version.id


def count(tx: Tx, table: str) -> int:
    """How many rows the catalogue's ``table`` (`items`, `metrics`, `prices`) holds."""
    tables: dict[str, Table] = {"items": usage_items, "metrics": usage_metrics,
                                "prices": usage_prices}  # fmt: skip
    return int(tx.execute(select(func.count()).select_from(tables[table])).scalar_one())


# --- items ---------------------------------------------------------------------------------

_ITEM = (_i.id, _i.name, _i.created_at, _i.metadata, _i.external_connections, _i.archived_at)


def _item(row: Any) -> CatalogueItem:
    return CatalogueItem(row.id, row.name, row.created_at, dict(row.metadata),
                         tuple(row.external_connections), row.archived_at)  # fmt: skip


def insert_item(tx: Tx, item: CatalogueItem) -> bool:
    """False when an item with this id exists already."""
    return tx.insert_unless_duplicate(insert(usage_items).values(
        id=item.id, name=item.name, created_at=item.created_at, metadata=dict(item.metadata),
        external_connections=[dict(c) for c in item.external_connections],
        archived_at=item.archived_at,
    ))  # fmt: skip


def item(tx: Tx, item_id: str) -> CatalogueItem | None:
    row = tx.execute(select(*_ITEM).where(_i.id == item_id)).first()
    return None if row is None else _item(row)


def lock_item(tx: Tx, item_id: str) -> CatalogueItem | None:
    """The item, its row locked until the transaction ends (PostgreSQL; SQLite serializes
    writers): every change to the item's prices takes this lock first."""
    row = tx.execute(select(*_ITEM).where(_i.id == item_id).with_for_update()).first()
    return None if row is None else _item(row)


def items_page(tx: Tx, after: tuple[datetime, str] | None, limit: int) -> list[CatalogueItem]:
    """Newest first; `after` is the (created_at, id) keyset of the previous page's last row."""
    query = select(*_ITEM)
    if after is not None:
        query = query.where(before((_i.created_at, _i.id), after))
    query = query.order_by(_i.created_at.desc(), _i.id.desc()).limit(limit)
    return [_item(row) for row in tx.execute(query)]


def all_items(tx: Tx) -> list[CatalogueItem]:
    """Every item, by id (the CLI's and the console's lists)."""
    return [_item(row) for row in tx.execute(select(*_ITEM).order_by(_i.id))]


def update_item(tx: Tx, item_id: str, values: Mapping[str, Any]) -> None:
    """Set `name`, `metadata` and/or `external_connections`."""
    if values:
        tx.execute(update(usage_items).where(_i.id == item_id).values(**values))


def archive_item(tx: Tx, item_id: str, at: datetime) -> None:
    """Archive the item and end every price version of it still in force after ``at``."""
    tx.execute(update(usage_items).where(_i.id == item_id).values(archived_at=at))
    still_open = or_(_p.effective_until.is_(None), _p.effective_until > at)
    tx.execute(update(usage_prices).where(_p.item_id == item_id, still_open)
               .values(effective_until=at))  # fmt: skip


# --- billable metrics ------------------------------------------------------------------------

_METRIC = (_m.id, _m.item_id, _m.name, _m.description, _m.sql, _m.event_name, _m.metric,
           _m.filters, _m.status, _m.metadata, _m.created_at)  # fmt: skip


def _metric_query() -> Any:
    item_columns = [c.label(f"item__{c.name}") for c in _ITEM]
    return select(*_METRIC, *item_columns).join(usage_items, _i.id == _m.item_id)


def _metric(row: Any) -> MetricRecord:
    item_row = CatalogueItem(row.item__id, row.item__name, row.item__created_at,
                             dict(row.item__metadata), tuple(row.item__external_connections),
                             row.item__archived_at)  # fmt: skip
    metric = parse_metric(row.metric)
    metric = Metric(metric.kind, metric.property, parse_filters_text(row.filters))
    return MetricRecord(row.id, item_row, row.name, row.description, row.sql, row.event_name,
                        metric, row.status, dict(row.metadata), row.created_at)  # fmt: skip


def insert_metric(tx: Tx, record: MetricRecord, filters_text: str) -> None:
    tx.execute(insert(usage_metrics).values(
        id=record.id, item_id=record.item.id, name=record.name,
        description=record.description, sql=record.sql, event_name=record.event_name,
        metric=str(record.metric), filters=filters_text, status=record.status,
        metadata=dict(record.metadata), created_at=record.created_at,
    ))  # fmt: skip


def metric(tx: Tx, metric_id: str) -> MetricRecord | None:
    row = tx.execute(_metric_query().where(_m.id == metric_id)).first()
    return None if row is None else _metric(row)


def metrics_page(
    tx: Tx,
    *,
    status: str | None,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[MetricRecord]:
    """Newest first, optionally of one status and a created_at range."""
    query = _metric_query()
    if status is not None:
        query = query.where(_m.status == status)
    for op, value in created_at_filters:
        query = query.where(compare(_m.created_at, op, value))
    if after is not None:
        query = query.where(before((_m.created_at, _m.id), after))
    query = query.order_by(_m.created_at.desc(), _m.id.desc()).limit(limit)
    return [_metric(row) for row in tx.execute(query)]


def find_metric(
    tx: Tx, item_id: str, event_name: str, metric_text: str, filters_text: str
) -> MetricRecord | None:
    """The oldest active metric of ``item_id`` with exactly this definition, if any."""
    query = _metric_query().where(
        _m.item_id == item_id, _m.event_name == event_name, _m.metric == metric_text,
        _m.filters == filters_text, _m.status == "active",
    ).order_by(_m.created_at, _m.id).limit(1)  # fmt: skip
    row = tx.execute(query).first()
    return None if row is None else _metric(row)


def update_metric(tx: Tx, metric_id: str, values: Mapping[str, Any]) -> None:
    """Set `name`, `description`, `metadata` and/or `status`."""
    if values:
        tx.execute(update(usage_metrics).where(_m.id == metric_id).values(**values))


# --- price versions --------------------------------------------------------------------------

_PRICE = (_p.id, _p.item_id, _p.event_name, _p.currency, _p.metric, _p.filters,
          _p.credits_per_unit, _p.effective_from, _p.effective_until, _p.created_at, _p.name,
          _p.cadence, _p.cycle_duration, _p.cycle_unit, _p.external_price_id, _p.metadata,
          _p.billable_metric_id, _p.replaces_price_id, _i.name.label("item_name"))  # fmt: skip


def version_of(row: Any) -> PriceVersion:
    """A price row as pricing sees it (also `store/usage.prices`)."""
    metric = parse_metric(row.metric)
    metric = Metric(metric.kind, metric.property, parse_filters_text(row.filters))
    return PriceVersion(row.id, row.item_id, row.event_name, row.currency, metric,
                        row.credits_per_unit, row.effective_from, row.effective_until)  # fmt: skip


def _price(row: Any) -> PriceRecord:
    return PriceRecord(
        version_of(row), row.item_name, row.name, row.cadence,
        (row.cycle_duration, row.cycle_unit), row.external_price_id, dict(row.metadata),
        row.created_at, row.billable_metric_id, row.replaces_price_id,
    )  # fmt: skip


def _price_query() -> Any:
    return select(*_PRICE).join(usage_items, _i.id == _p.item_id)


def insert_price(tx: Tx, record: PriceRecord, filters_text: str) -> bool:
    """False when another price has this `external_price_id` already."""
    v = record.version
    return tx.insert_unless_duplicate(insert(usage_prices).values(
        id=v.id, item_id=v.item_id, event_name=v.event_name, currency=v.currency,
        metric=str(v.metric), filters=filters_text, credits_per_unit=v.credits_per_unit,
        effective_from=v.effective_from, effective_until=v.effective_until,
        created_at=record.created_at, name=record.name, cadence=record.cadence,
        cycle_duration=record.cycle[0], cycle_unit=record.cycle[1],
        external_price_id=record.external_price_id, metadata=dict(record.metadata),
        billable_metric_id=record.billable_metric_id,
        replaces_price_id=record.replaces_price_id,
    ))  # fmt: skip


def open_version(tx: Tx, item_id: str, event_name: str, filters_text: str) -> PriceVersion | None:
    """The line's newest version, still open-ended (none once the item is archived)."""
    query = _price_query().where(
        _p.item_id == item_id, _p.event_name == event_name, _p.filters == filters_text,
        _p.effective_until.is_(None),
    )  # fmt: skip
    row = tx.execute(query).first()
    return None if row is None else version_of(row)


def end_version(tx: Tx, price_id: str, at: datetime) -> None:
    tx.execute(update(usage_prices).where(_p.id == price_id).values(effective_until=at))


def price(
    tx: Tx, price_id: str | None = None, external_price_id: str | None = None
) -> PriceRecord | None:
    column, value = (_p.id, price_id) if price_id is not None else (
        _p.external_price_id, external_price_id)  # fmt: skip
    row = tx.execute(_price_query().where(column == value)).first()
    return None if row is None else _price(row)


def prices_by_id(tx: Tx, ids: Sequence[str]) -> dict[str, PriceRecord]:
    found: dict[str, PriceRecord] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        query = _price_query().where(_p.id.in_(wanted[start : start + 500]))
        found.update((row.id, _price(row)) for row in tx.execute(query))
    return found


def prices_page(tx: Tx, after: tuple[datetime, str] | None, limit: int) -> list[PriceRecord]:
    """Every version, newest first; `after` is the previous page's last (created_at, id)."""
    query = _price_query()
    if after is not None:
        query = query.where(before((_p.created_at, _p.id), after))
    query = query.order_by(_p.created_at.desc(), _p.id.desc()).limit(limit)
    return [_price(row) for row in tx.execute(query)]


def all_prices(tx: Tx) -> list[PriceRecord]:
    """Every version, by item, event name, filters and start (the console's table)."""
    query = _price_query().order_by(_p.item_id, _p.event_name, _p.filters, _p.effective_from,
                                    _p.id)  # fmt: skip
    return [_price(row) for row in tx.execute(query)]


def set_price_metadata(tx: Tx, price_id: str, metadata: Mapping[str, str]) -> None:
    tx.execute(update(usage_prices).where(_p.id == price_id).values(metadata=dict(metadata)))
