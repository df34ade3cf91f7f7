"""The usage page: the price catalogue (items, billable metrics, price versions), changed
with forms that call the same use cases as `drawdown items|metrics|prices …` and the API's
`items.*`, `metrics.*`, `prices.*`; and one event's page, where an administrator amends its
properties or deprecates it through the same use cases as `PUT /v1/events/{id}` and
`…/deprecate` (its usage is corrected in the ledger)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.ledger.dates import resolve_instant
from drawdown.ledger.errors import LedgerError
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField, InvalidRequest, ServiceError
from drawdown.services.usage import catalogue, events, items, metrics
from drawdown.services.write_path import CustomerRef
from drawdown.web.auth import checked_form
from drawdown.web.pages import context_of, query, redirect, render

router = APIRouter()
USAGE_PATH = "/console/usage"
PRICE_FIELDS = ("item_id", "event_name", "metric", "billable_metric_id", "credits_per_unit",
                "currency", "effective_from")  # fmt: skip
METRIC_FIELDS = ("item_id", "name", "sql", "description")


@router.get("/usage")
async def usage_page(request: Request, notice: str | None = None) -> Response:
    """Items, billable metrics and prices usage is deducted with."""
    return await _render(request, {"notice": notice})


@router.post("/usage/items")
async def add_item(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Add an item."""
    item_id, name = str(form.get("item_id", "")), str(form.get("name", ""))
    try:
        await run_in_threadpool(catalogue.add_item(item_id, name).run, context_of(request))
    except (ServiceError, LedgerError) as exc:
        errors = {f"item_{exc.field or 'item_id'}": exc.message}
        return await _render(request, {"item": {"id": item_id, "name": name},
                                       "errors": errors, "form": "item"}, 400)  # fmt: skip
    return redirect(request, f"{USAGE_PATH}?notice=item")


@router.post("/usage/items/archive")
async def archive_item(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Archive an item: its prices end now."""
    item_id = str(form.get("item_id", ""))
    try:
        await run_in_threadpool(items.archive_item(item_id).run, context_of(request))
    except (ServiceError, LedgerError) as exc:
        return await _render(request, {"errors": {"archive": exc.message}, "form": "archive"},
                             400)  # fmt: skip
    return redirect(request, f"{USAGE_PATH}?notice=archived")


@router.post("/usage/metrics")
async def add_metric(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Add a billable metric."""
    values = {name: str(form.get(name, "")).strip() for name in METRIC_FIELDS}
    fields: dict[str, Any] = {**values, "description": values["description"] or None}
    ctx = context_of(request)
    try:
        await run_in_threadpool(lambda: metrics.create_metric(ctx, fields).run(ctx))
    except (ServiceError, LedgerError) as exc:
        errors = {exc.field or "sql": exc.message}
        return await _render(request, {"metric": values, "errors": errors, "form": "metric"},
                             400)  # fmt: skip
    return redirect(request, f"{USAGE_PATH}?notice=metric")


@router.post("/usage/prices")
async def add_price(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Add a price (or a new version of one)."""
    values = {name: str(form.get(name, "")).strip() for name in PRICE_FIELDS}
    try:
        await run_in_threadpool(_add_price, request, values)
    except (ServiceError, LedgerError) as exc:
        errors = {exc.field or "item_id": exc.message}
        return await _render(request, {"price": values, "errors": errors, "form": "price"},
                             400)  # fmt: skip
    return redirect(request, f"{USAGE_PATH}?notice=price")


def _add_price(request: Request, values: dict[str, str]) -> None:
    ctx = context_of(request)
    start = values["effective_from"]
    work = catalogue.add_price(
        ctx, item_id=values["item_id"], event_name=values["event_name"],
        metric=values["metric"], credits_per_unit=values["credits_per_unit"],
        currency=values["currency"] or "credits",
        effective_from=resolve_instant(start, "UTC", field="effective_from") if start else None,
        billable_metric_id=values["billable_metric_id"] or None,
    )  # fmt: skip
    work.run(ctx)


async def _render(request: Request, extra: dict[str, Any], status: int = 200) -> Response:
    ctx = context_of(request)
    found = await run_in_threadpool(_catalogue, ctx)
    context = {"nav": "usage", **found, "grace_seconds": ctx.settings.usage_grace_seconds,
               **extra}  # fmt: skip
    return render(request, "usage.html", context, status)


def _catalogue(ctx: Any) -> dict[str, Any]:
    return {
        "items": catalogue.list_items(ctx),
        "metrics": metrics.list_metrics(ctx, None, [], None, metrics.LIST_ALL_MAX),
        "prices": catalogue.list_price_records(ctx),
    }


# --- one event: amend or deprecate ------------------------------------------------------------

EVENT_PATH = "/console/usage/events"
AMEND_FIELDS = ("event_id", "customer_id", "event_name", "timestamp", "properties")


@router.get("/usage/events")
async def event_page(
    request: Request, event_id: str = "", customer_id: str = "", notice: str | None = None
) -> Response:
    """One event's versions, with forms to amend or deprecate it."""
    return await _event_page(request, event_id.strip(), customer_id.strip(), {"notice": notice})


async def _event_page(
    request: Request, event_id: str, customer_id: str, extra: dict[str, Any], status: int = 200
) -> Response:
    context: dict[str, Any] = {"nav": "usage", "event_id": event_id, "customer_id": customer_id}
    if event_id:
        named = CustomerRef(id=customer_id) if customer_id else None
        try:
            owner, versions = await run_in_threadpool(
                events.versions_of, context_of(request), event_id, named
            )
        except (ServiceError, LedgerError) as exc:
            context["lookup_error"] = exc.message
        else:
            live = [v for v in versions if not v.deprecated]
            context.update(owner=owner, versions=versions, live=live[0] if live else None)
    return render(request, "usage_event.html", {**context, **extra}, status)


@router.post("/usage/events/amend")
async def amend_event(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Amend an event's name and properties (its timestamp and customer stay)."""
    values = {name: str(form.get(name, "")).strip() for name in AMEND_FIELDS}
    try:
        await run_in_threadpool(_amend, context_of(request), values)
    except InvalidRequest as exc:
        errors = {e["field"]: e["message"] for e in exc.errors}
    except (ServiceError, LedgerError) as exc:
        errors = {exc.field or "event_id": exc.message}
    else:
        return _back(request, values, "amended")
    extra = {"errors": errors, "form": values}
    return await _event_page(request, values["event_id"], values["customer_id"], extra, 400)


def _amend(ctx: ServiceContext, values: dict[str, str]) -> None:
    try:
        properties = json.loads(values["properties"] or "{}", parse_float=Decimal)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
        raise InvalidField("properties", 'must be a JSON object, e.g. {"seconds": 12}') from None
    body = {"event_name": values["event_name"], "timestamp": values["timestamp"],
            "properties": properties, "customer_id": values["customer_id"]}  # fmt: skip
    events.amend(values["event_id"], events.parse_amendment(body)).run(ctx)


@router.post("/usage/events/deprecate")
async def deprecate_event(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Deprecate an event: it no longer counts (its usage is refunded if deducted)."""
    values = {name: str(form.get(name, "")).strip() for name in ("event_id", "customer_id")}
    work = events.deprecate(values["customer_id"], values["event_id"])
    try:
        await run_in_threadpool(work.run, context_of(request))
    except (ServiceError, LedgerError) as exc:
        extra = {"errors": {exc.field or "event_id": exc.message}}
        return await _event_page(request, values["event_id"], values["customer_id"], extra, 400)
    return _back(request, values, "deprecated")


def _back(request: Request, values: dict[str, str], notice: str) -> Response:
    where = query({"event_id": values["event_id"], "customer_id": values["customer_id"]},
                  notice=notice)  # fmt: skip
    return redirect(request, f"{EVENT_PATH}?{where}")
