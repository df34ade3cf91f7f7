"""The usage page: the price catalogue (items and versioned prices), added with forms that
call the same use cases as `drawdown items add` / `drawdown prices add`."""

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
from drawdown.services.usage import catalogue
from drawdown.web.auth import checked_form
from drawdown.web.pages import context_of, redirect, render

router = APIRouter()
USAGE_PATH = "/console/usage"
PRICE_FIELDS = ("item_id", "event_name", "metric", "credits_per_unit", "currency",
                "effective_from")  # fmt: skip


@router.get("/usage")
async def usage_page(request: Request, notice: str | None = None) -> Response:
    """Items and prices usage is deducted with."""
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
                                       "errors": errors}, 400)  # fmt: skip
    return redirect(request, f"{USAGE_PATH}?notice=item")


@router.post("/usage/prices")
async def add_price(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Add a price (or a new version of one)."""
    values = {name: str(form.get(name, "")).strip() for name in PRICE_FIELDS}
    try:
        await run_in_threadpool(_add_price, request, values)
    except (ServiceError, LedgerError) as exc:
        errors = {exc.field or "item_id": exc.message}
        return await _render(request, {"price": values, "errors": errors}, 400)
    return redirect(request, f"{USAGE_PATH}?notice=price")


def _add_price(request: Request, values: dict[str, str]) -> None:
    ctx = context_of(request)
    start = values["effective_from"]
    work = catalogue.add_price(
        ctx, item_id=values["item_id"], event_name=values["event_name"],
        metric=values["metric"], credits_per_unit=values["credits_per_unit"],
        currency=values["currency"] or "credits",
        effective_from=resolve_instant(start, "UTC", field="effective_from") if start else None,
    )  # fmt: skip
    work.run(ctx)


async def _render(request: Request, extra: dict[str, Any], status: int = 200) -> Response:
    ctx = context_of(request)
    items = await run_in_threadpool(catalogue.list_items, ctx)
    prices = await run_in_threadpool(catalogue.list_prices, ctx)
    context = {"nav": "usage", "items": items, "prices": prices,
               "grace_seconds": ctx.settings.usage_grace_seconds, **extra}  # fmt: skip
    return render(request, "usage.html", context, status)
