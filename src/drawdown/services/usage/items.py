"""Items (Orb's `items.*`): what prices and metrics are for, and what block filters name.

An item's id never changes and is never reused, so block filters that name it stay valid.
Ids are drawdown's own (16 characters) for items made through the API, or chosen by the
operator through `drawdown items add` / the console. Archiving an item (once) ends every
price version of it that is still in force from that instant on: later usage of it is not
priced, earlier usage keeps its price (Orb: archiving cascades to the item's prices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drawdown.services import metadata as meta
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import Work, work
from drawdown.store import catalogue as store
from drawdown.store.catalogue import CatalogueItem
from drawdown.store.tx import Tx

__all__ = ["CatalogueItem", "archive_item", "create_item", "fetch_item", "list_items"]

# The deducter reads the whole catalogue for every deduction: it stays small.
CATALOGUE_ROWS_MAX = {"items": 10_000, "metrics": 10_000, "prices": 10_000}
ITEM_ID_LENGTH_MAX = 255
NAME_LENGTH_MAX = 255
CONNECTIONS_MAX = 20
ENTITY_ID_LENGTH_MAX = 255
CONNECTION_NAMES = ("stripe", "quickbooks", "bill.com", "netsuite", "taxjar", "avalara",
                    "anrok", "numeral", "stripe_tax")  # fmt: skip


def text(value: object, field: str, limit: int) -> str:
    """A required, trimmed text field of 1 to ``limit`` characters."""
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
        raise InvalidField(field, f"must be 1-{limit} characters")
    return value.strip()


def check_room(tx: Tx, table: str) -> None:
    """Refuse a new row of the catalogue beyond its limit."""
    limit = CATALOGUE_ROWS_MAX[table]
    if store.count(tx, table) >= limit:
        raise ConstraintViolation(None, f"the catalogue holds at most {limit} {table}")


def create_item(
    ctx: ServiceContext, fields: Mapping[str, Any], item_id: str | None = None
) -> Work[CatalogueItem]:
    """A new item; ``item_id`` is the operator's choice (CLI, console), else a new id."""
    name = text(fields.get("name"), "name", NAME_LENGTH_MAX)
    meta.validate(fields.get("metadata"), ctx.settings)
    metadata = meta.on_create(fields.get("metadata"))
    chosen = ctx.new_id() if item_id is None else text(item_id, "item_id", ITEM_ID_LENGTH_MAX)

    def body(tx: Tx, now: datetime) -> CatalogueItem:
        check_room(tx, "items")
        item = CatalogueItem(chosen, name, now, metadata)
        if not store.insert_item(tx, item):
            raise ConstraintViolation("item_id", f"an item {chosen!r} exists already")
        return item

    return work(body)


def fetch_item(ctx: ServiceContext, item_id: str) -> CatalogueItem:
    with ctx.db.read() as tx:
        return _found(store.item(tx, item_id), item_id)


def _found(item: CatalogueItem | None, item_id: str) -> CatalogueItem:
    if item is None:
        raise ResourceNotFound("Item", item_id)
    return item


def list_items(
    ctx: ServiceContext, after: tuple[datetime, str] | None, limit: int
) -> list[CatalogueItem]:
    with ctx.db.read() as tx:
        return store.items_page(tx, after, limit)


def update_item(
    ctx: ServiceContext, item_id: str, fields: Mapping[str, Any]
) -> Work[CatalogueItem]:
    """Orb's `items.update`: `name` (not null), `metadata` (merged), `external_connections`
    (replaced; null clears them). Fields not sent are kept."""
    values: dict[str, Any] = {}
    if "name" in fields:
        values["name"] = text(fields["name"], "name", NAME_LENGTH_MAX)
    if "external_connections" in fields:
        values["external_connections"] = _connections(fields["external_connections"])
    if "metadata" in fields:
        meta.validate(fields["metadata"], ctx.settings)

    def body(tx: Tx, _now: datetime) -> CatalogueItem:
        item = _found(store.lock_item(tx, item_id), item_id)
        if "metadata" in fields:
            values["metadata"] = meta.updated(item.metadata, fields["metadata"], ctx.settings)
        store.update_item(tx, item_id, values)
        return _found(store.item(tx, item_id), item_id)

    return work(body)


def _connections(value: Sequence[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    found = list(value or [])
    if len(found) > CONNECTIONS_MAX:
        raise InvalidField("external_connections", f"at most {CONNECTIONS_MAX} connections")
    result = []
    for index, connection in enumerate(found):
        field = f"external_connections.{index}"
        name = connection.get("external_connection_name")
        if name not in CONNECTION_NAMES:
            raise InvalidField(f"{field}.external_connection_name",
                               f"must be one of {', '.join(CONNECTION_NAMES)}")  # fmt: skip
        entity = text(connection.get("external_entity_id"), f"{field}.external_entity_id",
                      ENTITY_ID_LENGTH_MAX)  # fmt: skip
        result.append({"external_connection_name": name, "external_entity_id": entity})
    return result


def archive_item(item_id: str) -> Work[CatalogueItem]:
    """Archive the item and end its prices from now on; an archived item stays archived."""

    def body(tx: Tx, now: datetime) -> CatalogueItem:
        item = _found(store.lock_item(tx, item_id), item_id)
        if item.archived_at is not None:
            raise ConstraintViolation("item_id", f"item {item_id!r} is archived already")
        store.archive_item(tx, item_id, now)
        return _found(store.item(tx, item_id), item_id)

    return work(body)
