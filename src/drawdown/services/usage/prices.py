"""Prices (Orb's `prices.*`): each price is one version of a price line.

**Versioning (docs/decisions.md "Price catalogue").** A line is (item, event name, property
filters): the events a price counts, and the item it draws them for. A new price of a line
that has one supersedes it from the new price's start (`effective_from`: when it is written
through the API, now or later from the CLI and the console), never earlier, so usage that
already happened keeps its price; the new price's `replaces_price_id` names the one it
superseded, whose `effective_until` is set to that start. Prices of different lines all
apply. Without this, two prices counting the same events for the same item would both
charge every event: drawdown has no subscriptions to choose between them, every price in
the catalogue applies to every customer.

`prices.update` changes metadata only (as Orb). The line's versions are appended under the
item's row lock, so a line never has two open versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from drawdown.ledger.dates import format_instant
from drawdown.ledger.metric_sql import MetricDefinition
from drawdown.ledger.usage import PriceVersion, filters_text
from drawdown.services import metadata as meta
from drawdown.services.context import ServiceContext
from drawdown.services.errors import (
    ConstraintViolation,
    InvalidField,
    ResourceNotFound,
    ServiceError,
)
from drawdown.services.usage.items import check_room
from drawdown.services.usage.metrics import found as found_metric
from drawdown.services.usage.metrics import metric_for, usable_item
from drawdown.services.usage.price_input import PriceSpec
from drawdown.services.write_path import Work
from drawdown.store import catalogue as store
from drawdown.store.catalogue import CatalogueItem, PriceRecord
from drawdown.store.tx import Tx

__all__ = ["PriceRecord", "PriceSpec", "create_price", "fetch_price", "list_prices"]


class DuplicateExternalPriceId(ServiceError):
    kind = "duplicate"

    def __init__(self, external_price_id: str) -> None:
        message = f"A price with external_price_id {external_price_id!r} already exists."
        super().__init__("external_price_id", message)


def create_price(ctx: ServiceContext, spec: PriceSpec) -> Work[PriceRecord]:
    """Add ``spec`` as the newest version of its line (see the module docstring)."""
    new_id, metric_id = ctx.new_id(), ctx.new_id()

    def body(_ctx: ServiceContext, tx: Tx, now: datetime) -> PriceRecord:
        item = usable_item(tx, spec.item_id)
        check_room(tx, "prices")
        metric_id_used, definition = _metric(tx, item, spec, now, metric_id)
        start = now if spec.effective_from is None else spec.effective_from
        if start < now:
            raise InvalidField("effective_from", "must not be in the past: a price change "
                               "never reprices usage that already happened")  # fmt: skip
        ftext = filters_text(definition.metric.filters)
        before = store.open_version(tx, item.id, definition.event_name, ftext)
        if before is not None:
            _supersede(tx, before, start)
        version = PriceVersion(new_id, item.id, definition.event_name, spec.currency,
                               definition.metric, spec.unit_amount, start)  # fmt: skip
        record = PriceRecord(version, item.name, spec.name or item.name, spec.cadence,
                             spec.cycle, spec.external_price_id, dict(spec.metadata), now,
                             metric_id_used, None if before is None else before.id)  # fmt: skip
        if not store.insert_price(tx, record, ftext):
            assert spec.external_price_id is not None
            raise DuplicateExternalPriceId(spec.external_price_id)
        return record

    return Work(body)


def _metric(
    tx: Tx, item: CatalogueItem, spec: PriceSpec, now: datetime, new_id: str
) -> tuple[str, MetricDefinition]:
    if spec.definition is not None:
        made = metric_for(tx, item, spec.definition, now, new_id)
        return made.id, spec.definition
    assert spec.billable_metric_id is not None
    record = found_metric(store.metric(tx, spec.billable_metric_id), spec.billable_metric_id)
    if record.status != "active":
        message = f"metric {record.id!r} is archived: unarchive it first"
        raise ConstraintViolation("billable_metric_id", message)
    return record.id, MetricDefinition(record.event_name, record.metric)


def _supersede(tx: Tx, before: PriceVersion, start: datetime) -> None:
    if start < before.effective_from:
        raise InvalidField("effective_from", "must not be before "
                           f"{format_instant(before.effective_from, fractions=False)}, when "
                           f"version {before.id} of this price starts")  # fmt: skip
    store.end_version(tx, before.id, start)


def fetch_price(
    ctx: ServiceContext, price_id: str | None = None, external_price_id: str | None = None
) -> PriceRecord:
    with ctx.db.read() as tx:
        return _found(store.price(tx, price_id, external_price_id), price_id, external_price_id)


def _found(
    record: PriceRecord | None, price_id: str | None, external_price_id: str | None
) -> PriceRecord:
    if record is None:
        name = price_id if price_id is not None else f"external_price_id={external_price_id}"
        raise ResourceNotFound("Price", str(name))
    return record


def list_prices(
    ctx: ServiceContext, after: tuple[datetime, str] | None, limit: int
) -> list[PriceRecord]:
    with ctx.db.read() as tx:
        return store.prices_page(tx, after, limit)


def update_price(
    ctx: ServiceContext,
    fields: Mapping[str, Any],
    price_id: str | None = None,
    external_price_id: str | None = None,
) -> Work[PriceRecord]:
    """Orb's `prices.update`: only `metadata` changes (merge; null clears it)."""
    if "metadata" in fields:
        meta.validate(fields["metadata"], ctx.settings)

    def body(tx: Tx, _now: datetime) -> PriceRecord:
        record = _found(store.price(tx, price_id, external_price_id), price_id,
                        external_price_id)  # fmt: skip
        if "metadata" not in fields:
            return record
        merged = meta.updated(record.metadata, fields["metadata"], ctx.settings)
        store.set_price_metadata(tx, record.id, merged)
        return replace(record, metadata=merged)

    return Work(lambda _ctx, tx, now: body(tx, now))
