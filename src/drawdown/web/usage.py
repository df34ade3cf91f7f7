"""The usage page: the price catalogue (items, billable metrics, price versions), changed
with forms that call the same use cases as `drawdown items|metrics|prices …` and the API's
`items.*`, `metrics.*`, `prices.*`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.ledger.dates import resolve_instant
from drawdown.ledger.errors import LedgerError
from drawdown.services.errors import ServiceError
from drawdown.services.usage import catalogue, items, metrics
from drawdown.web.auth import checked_form
from drawdown.web.pages import context_of, redirect, render

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
