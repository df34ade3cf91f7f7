"""Prices and their evaluation, wire-compatible with Orb's `prices.*`, and a customer's costs
(`customers.costs.list`). Evaluations and costs read events in a worker thread: they may
scan many, and a scan must not hold the event loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import pagination, paths, queries
from drawdown.api.deps import body_of, read, respond, service_context, validated
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.catalogue import (
    PriceCreate,
    PriceEvaluate,
    PriceEvaluateMultiple,
    PriceEvaluatePreviewEvents,
    PriceEvaluation,
    PriceUpdate,
    costs_json,
    evaluated_json,
    groups_json,
    price_json,
)
from drawdown.api.schemas.customers import service_fields
from drawdown.services.usage import costs, evaluate, prices
from drawdown.services.usage.price_input import price_spec
from drawdown.services.usage.prices import PriceRecord
from drawdown.services.write_path import CustomerRef

router = APIRouter()
T = TypeVar("T")

PRICE = "/v1/prices/{price_id}"
EXTERNAL = "/v1/prices/external_price_id/{external_price_id:segment}"
CREATED: JsonReplier[PriceRecord] = JsonReplier(201, price_json)
OK: JsonReplier[PriceRecord] = JsonReplier(200, price_json)


async def _in_thread(request: Request, use_case: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(use_case, service_context(request), *args)


@router.post("/v1/prices", status_code=201)
async def create_price(request: Request) -> Response:
    """Create a price (a new version of its line)."""
    ctx = service_context(request)
    body = validated(PriceCreate, body_of(request))
    spec = price_spec(body.model_dump(), ctx.settings)
    return await respond(request, prices.create_price(ctx, spec), CREATED)


@router.get("/v1/prices")
async def list_prices(request: Request) -> Response:
    """List prices (every version), newest first."""
    pager = pagination.Pager.of(request, "prices", {})
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    rows = await read(request, prices.list_prices, after, pager.fetch)
    return pager.respond(rows, pagination.created_key, lambda page: [price_json(r) for r in page])


@router.get(PRICE)
async def fetch_price(request: Request, price_id: str) -> Response:
    """Fetch a price."""
    return ExactJSONResponse(price_json(await read(request, prices.fetch_price, price_id)))


@router.get(EXTERNAL)
async def fetch_price_by_external_id(request: Request, external_price_id: str) -> Response:
    """Fetch a price by external price id."""
    found = await read(request, prices.fetch_price, None, external_price_id)
    return ExactJSONResponse(price_json(found))


@router.put(PRICE)
async def update_price(request: Request, price_id: str) -> Response:
    """Update a price's metadata."""
    return await _update(request, price_id=price_id)


@router.put(EXTERNAL)
async def update_price_by_external_id(request: Request, external_price_id: str) -> Response:
    """Update a price's metadata by external price id."""
    return await _update(request, external_price_id=external_price_id)


async def _update(request: Request, **ids: str) -> Response:
    fields = service_fields(validated(PriceUpdate, body_of(request)))
    return await respond(request, prices.update_price(service_context(request), fields, **ids),
                         OK)  # fmt: skip


@router.post(PRICE + "/evaluate")
async def evaluate_price(request: Request, price_id: str) -> Response:
    """Evaluate a price for a customer and timeframe."""
    body = validated(PriceEvaluate, body_of(request))
    one = evaluate.PriceEvaluation(
        price_id=price_id, filter=body.filter, grouping_keys=body.grouping_keys,
        metric_parameter_overrides=body.metric_parameter_overrides,
    )  # fmt: skip
    checked = _checked(request, body, [one], prefix="")
    [result] = await _in_thread(request, evaluate.evaluate, checked)
    return ExactJSONResponse({"data": groups_json(result)})


@router.post("/v1/prices/evaluate")
async def evaluate_prices(request: Request) -> Response:
    """Evaluate prices for a customer and timeframe."""
    body = validated(PriceEvaluateMultiple, body_of(request))
    checked = _checked(request, body, _evaluations(body.price_evaluations))
    return await _evaluated(request, checked)


@router.post("/v1/prices/evaluate_preview_events")
async def evaluate_preview_events(request: Request) -> Response:
    """Evaluate prices over preview events (nothing is stored)."""
    body = validated(PriceEvaluatePreviewEvents, body_of(request))
    events = [event.model_dump() for event in body.events]
    checked = _checked(request, body, _evaluations(body.price_evaluations), events)
    return await _evaluated(request, checked)


def _checked(
    request: Request, body: Any, evaluations: Sequence[evaluate.PriceEvaluation],
    preview: Sequence[Any] | None = None, prefix: str = "price_evaluations.",
) -> evaluate.Request:  # fmt: skip
    ref = evaluate.customer_ref(body.customer_id, body.external_customer_id)
    return evaluate.checked(service_context(request), ref,
                            (body.timeframe_start, body.timeframe_end), evaluations, preview,
                            prefix)  # fmt: skip


def _evaluations(given: Sequence[PriceEvaluation]) -> list[evaluate.PriceEvaluation]:
    return [evaluate.PriceEvaluation(
        price_id=e.price_id, external_price_id=e.external_price_id,
        price=None if e.price is None else e.price.model_dump(), filter=e.filter,
        grouping_keys=e.grouping_keys, metric_parameter_overrides=e.metric_parameter_overrides,
    ) for e in given]  # fmt: skip


async def _evaluated(request: Request, checked: evaluate.Request) -> Response:
    results = await _in_thread(request, evaluate.evaluate, checked)
    return ExactJSONResponse({"data": [evaluated_json(r) for r in results]})


# --- a customer's costs -------------------------------------------------------------------------


@router.get("/v1/customers/{customer_id}/costs")
async def list_costs(request: Request, customer_id: str) -> Response:
    """Fetch a customer's costs per price and day."""
    return await _costs(request, CustomerRef(id=customer_id))


@router.get("/v1" + paths.BY_EXTERNAL_ID + "/costs")
async def list_costs_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Fetch a customer's costs per price and day, by external customer id."""
    return await _costs(request, CustomerRef(external_id=external_customer_id))


async def _costs(request: Request, ref: CustomerRef) -> Response:
    view_mode = queries.one_of(request, "view_mode", costs.VIEW_MODES)
    query = request.query_params
    report = await _in_thread(request, costs.customer_costs, ref, query.get("currency"),
                              query.get("timeframe_start"), query.get("timeframe_end"),
                              view_mode)  # fmt: skip
    return ExactJSONResponse(costs_json(report))
