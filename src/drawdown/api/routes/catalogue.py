"""Items and billable metrics, wire-compatible with Orb's `items.*` and `metrics.*`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination, queries
from drawdown.api.deps import body_of, read, respond, service_context, validated
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.catalogue import (
    ItemCreate,
    ItemUpdate,
    MetricCreate,
    MetricUpdate,
    item_json,
    metric_json,
)
from drawdown.api.schemas.customers import service_fields
from drawdown.ledger.dates import resolve_bounds
from drawdown.services.usage import items, metrics
from drawdown.services.usage.items import CatalogueItem
from drawdown.services.usage.metrics import MetricRecord

router = APIRouter()

ITEM = "/v1/items/{item_id:segment}"
METRIC = "/v1/metrics/{metric_id}"
ITEM_CREATED: JsonReplier[CatalogueItem] = JsonReplier(201, item_json)
ITEM_OK: JsonReplier[CatalogueItem] = JsonReplier(200, item_json)
METRIC_CREATED: JsonReplier[MetricRecord] = JsonReplier(201, metric_json)
METRIC_OK: JsonReplier[MetricRecord] = JsonReplier(200, metric_json)


@router.post("/v1/items", status_code=201)
async def create_item(request: Request) -> Response:
    """Create an item."""
    fields = service_fields(validated(ItemCreate, body_of(request)))
    work = items.create_item(service_context(request), fields)
    return await respond(request, work, ITEM_CREATED)


@router.get("/v1/items")
async def list_items(request: Request) -> Response:
    """List items, newest first."""
    pager = pagination.Pager.of(request, "items", {})
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    rows = await read(request, items.list_items, after, pager.fetch)
    return pager.respond(rows, pagination.created_key, lambda page: [item_json(r) for r in page])


@router.get(ITEM)
async def fetch_item(request: Request, item_id: str) -> Response:
    """Fetch an item."""
    return ExactJSONResponse(item_json(await read(request, items.fetch_item, item_id)))


@router.put(ITEM)
async def update_item(request: Request, item_id: str) -> Response:
    """Update an item's name, metadata or external connections."""
    fields = service_fields(validated(ItemUpdate, body_of(request)))
    if "name" in fields and fields["name"] is None:
        raise invalid("name", "may not be null")
    work = items.update_item(service_context(request), item_id, fields)
    return await respond(request, work, ITEM_OK)


@router.post(ITEM + "/archive")
async def archive_item(request: Request, item_id: str) -> Response:
    """Archive an item and end its prices."""
    return await respond(request, items.archive_item(item_id), ITEM_OK)


@router.post("/v1/metrics", status_code=201)
async def create_metric(request: Request) -> Response:
    """Create a billable metric."""
    fields = service_fields(validated(MetricCreate, body_of(request)))
    work = metrics.create_metric(service_context(request), fields)
    return await respond(request, work, METRIC_CREATED)


@router.get("/v1/metrics")
async def list_metrics(request: Request) -> Response:
    """List billable metrics, newest first."""
    status = queries.one_of(request, "status", ("active", "archived", "draft"))
    raw = queries.range_filters(request, "created_at")
    created_at = resolve_bounds(raw, "UTC", field="created_at")
    pager = pagination.Pager.of(request, "metrics", {"status": status, **dict(raw)})
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    rows = await read(request, metrics.list_metrics, status, created_at, after, pager.fetch)
    return pager.respond(rows, pagination.created_key,
                         lambda page: [metric_json(r) for r in page])  # fmt: skip


@router.get(METRIC)
async def fetch_metric(request: Request, metric_id: str) -> Response:
    """Fetch a billable metric."""
    return ExactJSONResponse(metric_json(await read(request, metrics.fetch_metric, metric_id)))


@router.put(METRIC)
async def update_metric(request: Request, metric_id: str) -> Response:
    """Update a billable metric's name, description or metadata."""
    fields = service_fields(validated(MetricUpdate, body_of(request)))
    work = metrics.update_metric(service_context(request), metric_id, fields)
    return await respond(request, work, METRIC_OK)


@router.post(METRIC + "/archive")
async def archive_metric(request: Request, metric_id: str) -> Response:
    """Archive a billable metric."""
    return await respond(request, metrics.set_status(metric_id, "archived"), METRIC_OK)


@router.post(METRIC + "/unarchive")
async def unarchive_metric(request: Request, metric_id: str) -> Response:
    """Unarchive a billable metric."""
    return await respond(request, metrics.set_status(metric_id, "active"), METRIC_OK)
