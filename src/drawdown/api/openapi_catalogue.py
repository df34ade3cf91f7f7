"""The price catalogue's part of the OpenAPI document (`api/openapi.py` merges it in): items,
billable metrics, prices, price evaluation and customer costs, with Orb's names.

Kept apart so the catalogue's routes and their description change together; it imports
nothing from `openapi.py` (which imports it), so its few schema helpers are its own.
Request bodies come from the routes' wire models, responses from the shapes their builders
return (both in `api/schemas/catalogue.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from drawdown.api.schemas.catalogue import (
    AggregatedCostJson,
    BillableMetricJson,
    EvaluatedPriceJson,
    EvaluatePriceGroupJson,
    ItemCreate,
    ItemJson,
    ItemUpdate,
    MetricCreate,
    MetricUpdate,
    PerPriceCostJson,
    PriceCreate,
    PriceEvaluate,
    PriceEvaluateMultiple,
    PriceEvaluatePreviewEvents,
    PriceUpdate,
    UnitPriceJson,
)
from drawdown.api.schemas.wire import component_name, ref
from drawdown.ledger.metric_sql import SUPPORTED
from drawdown.services.usage.costs import DAYS_MAX
from drawdown.services.usage.evaluate import (
    GROUPS_MAX,
    PREVIEW_EVENTS_MAX,
    PRICE_EVALUATIONS_MAX,
    TIMEFRAME_DAYS_MAX,
)
from drawdown.services.usage.price_input import CADENCES, UNSUPPORTED

Schema = dict[str, Any]


def _shape(declared: Any) -> Schema:
    return ref(component_name(declared))


def _obj(properties: Mapping[str, Schema], description: str | None = None) -> Schema:
    result: Schema = {"type": "object", "properties": dict(properties),
                      "required": list(properties)}  # fmt: skip
    if description:
        result["description"] = description
    return result


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING: Schema = {"type": "string"}

PATH_DESCRIPTIONS = {
    "item_id": "An item id (any text for items made with `drawdown items add`).",
    "metric_id": "A billable metric id.",
    "price_id": "A price (price version) id.",
    "external_price_id": "The caller's alias for a price.",
}


# --- response objects: declared beside their builders (api/schemas/catalogue.py) ----------

RESPONSE_SHAPES = (
    ItemJson, BillableMetricJson, UnitPriceJson, EvaluatePriceGroupJson, EvaluatedPriceJson,
    PerPriceCostJson, AggregatedCostJson,
)  # fmt: skip


# --- request bodies ---------------------------------------------------------------------------

REQUEST_MODELS: Mapping[type[BaseModel], str] = {
    ItemCreate: "ItemCreateParams", ItemUpdate: "ItemUpdateParams",
    MetricCreate: "MetricCreateParams", MetricUpdate: "MetricUpdateParams",
    PriceCreate: "NewFloatingUnitPrice", PriceUpdate: "PriceUpdateParams",
    PriceEvaluate: "PriceEvaluateParams", PriceEvaluateMultiple: "PriceEvaluateMultipleParams",
    PriceEvaluatePreviewEvents: "PriceEvaluatePreviewEventsParams",
}  # fmt: skip
# Fields the services require (the models leave them optional so the service names the
# first one missing, after `model_type`).
REQUIRED = {
    "ItemCreateParams": ["name"],
    "MetricCreateParams": ["name", "sql", "item_id"],
    "NewFloatingUnitPrice": ["model_type", "cadence", "currency", "item_id", "name",
                             "unit_config", "billable_metric_id"],
}  # fmt: skip


def request_schemas() -> dict[str, Schema]:
    _, top = models_json_schema([(m, "validation") for m in REQUEST_MODELS],
                                ref_template="#/components/schemas/{model}")  # fmt: skip
    names = {model.__name__: name for model, name in REQUEST_MODELS.items()}
    defs = {names.get(key, key): _untitled(value, names) for key, value in top["$defs"].items()}
    for name, required in REQUIRED.items():
        defs[name]["required"] = required
    price = defs["NewFloatingUnitPrice"]["properties"]
    price["model_type"] = {"const": "unit", "description": "Other models are a 400."}
    price["cadence"] = {"type": "string", "enum": list(CADENCES)}
    price["currency"] = {"type": "string", "description": "A pricing unit such as `credits` "
                         "(the ledger usage draws), not an ISO currency."}  # fmt: skip
    for name in UNSUPPORTED:
        price[name] = {"type": "null", "description": "Not supported: a 400 when set."}
    defs["MetricCreateParams"]["properties"]["sql"] = {
        "type": "string",
        "description": SUPPORTED + ".",
    }
    defs["PriceEvaluateMultipleParams"]["properties"]["price_evaluations"]["maxItems"] = (
        PRICE_EVALUATIONS_MAX
    )
    defs["PriceEvaluatePreviewEventsParams"]["properties"]["events"]["maxItems"] = (
        PREVIEW_EVENTS_MAX
    )
    return defs


def _untitled(value: Any, names: Mapping[str, str]) -> Any:
    """The schema without pydantic's titles, its references under the component names."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "title":
                continue
            if key == "$ref" and isinstance(item, str):
                prefix, _, name = item.rpartition("/")
                item = f"{prefix}/{names.get(name, name)}"
            result[key] = _untitled(item, names)
        return result
    if isinstance(value, list):
        return [_untitled(item, names) for item in value]
    return value


# --- parameters and operations ----------------------------------------------------------------


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


def query_groups() -> dict[str, list[Schema]]:
    return {
        "metrics": [_query("status", {"enum": ["active", "archived", "draft"]},
                           "Only metrics of this status (drawdown has no drafts).")],
        "costs": [
            _query("currency", STRING, "The pricing unit; default `credits`."),
            _query("timeframe_start", STRING, "Inclusive; an ISO 8601 date or date-time (a "
                   "date is midnight in the customer's timezone). Default: the start of the "
                   "current month."),
            _query("timeframe_end", STRING, "Exclusive. Default: the end of today. At most "
                   f"{DAYS_MAX} days after timeframe_start."),
            _query("view_mode", {"enum": ["periodic", "cumulative"]},
                   "cumulative (default): windows from timeframe_start to each day's end; "
                   "periodic: one window per day."),
        ],
    }  # fmt: skip


def _page(item: Any) -> Schema:
    return _obj({"data": _array(_shape(item)), "pagination_metadata": ref("PaginationMetadata")})


def _data(item: Any) -> Schema:
    return _obj({"data": _array(_shape(item))})


ITEM = "/items/{item_id}"
METRIC = "/metrics/{metric_id}"
PRICE = "/prices/{price_id}"
EXTERNAL_PRICE = "/prices/external_price_id/{external_price_id}"
EVALUATION = (f"Evaluates over the customer's events in the timeframe (at most "
              f"{TIMEFRAME_DAYS_MAX} days; a price applies to every event its metric counts, "
              f"whatever its own effective window) into at most {GROUPS_MAX} groups.")  # fmt: skip


def _op(method: str, path: str, operation_id: str, summary: str, tag: str, sdk: str,
        **kw: Any) -> dict[str, Any]:  # fmt: skip
    return {"method": method, "path": path, "operation_id": operation_id, "summary": summary,
            "tag": tag, "sdk": sdk, **kw}  # fmt: skip


OPERATIONS: tuple[dict[str, Any], ...] = (
    _op("post", "/items", "create-item", "Create an item", "Item", "items.create",
        success=201, response=_shape(ItemJson), body="ItemCreateParams", not_found=False),
    _op("get", "/items", "list-items", "List items, newest first", "Item", "items.list",
        response=_page(ItemJson), params=("pagination",), not_found=False),
    _op("get", ITEM, "fetch-item", "Fetch an item", "Item", "items.fetch",
        response=_shape(ItemJson)),
    _op("put", ITEM, "update-item", "Update an item", "Item", "items.update",
        response=_shape(ItemJson), body="ItemUpdateParams"),
    _op("post", ITEM + "/archive", "archive-item",
        "Archive an item; its prices stop pricing usage from now on", "Item", "items.archive",
        response=_shape(ItemJson)),
    _op("post", "/metrics", "create-billable-metric", "Create a billable metric", "Metric",
        "metrics.create", success=201, response=_shape(BillableMetricJson),
        body="MetricCreateParams"),
    _op("get", "/metrics", "list-metrics", "List billable metrics, newest first", "Metric",
        "metrics.list", response=_page(BillableMetricJson),
        params=("pagination", "created_at", "metrics"), not_found=False),
    _op("get", METRIC, "get-metric", "Fetch a billable metric", "Metric", "metrics.fetch",
        response=_shape(BillableMetricJson)),
    _op("put", METRIC, "update-metric", "Update a billable metric", "Metric", "metrics.update",
        response=_shape(BillableMetricJson), body="MetricUpdateParams"),
    _op("post", METRIC + "/archive", "archive-metric", "Archive a billable metric", "Metric",
        "metrics.archive", response=_shape(BillableMetricJson)),
    _op("post", METRIC + "/unarchive", "unarchive-metric", "Unarchive a billable metric",
        "Metric", "metrics.unarchive", response=_shape(BillableMetricJson)),
    _op("post", "/prices", "create-price",
        "Create a unit price (a new version of its price line)", "Price", "prices.create",
        success=201, response=_shape(UnitPriceJson), body="NewFloatingUnitPrice"),
    _op("get", "/prices", "list-prices", "List prices (every version), newest first",
        "Price", "prices.list", response=_page(UnitPriceJson), params=("pagination",),
        not_found=False),
    _op("get", PRICE, "fetch-price", "Fetch a price", "Price", "prices.fetch",
        response=_shape(UnitPriceJson)),
    _op("put", PRICE, "update-price", "Update a price's metadata", "Price", "prices.update",
        response=_shape(UnitPriceJson), body="PriceUpdateParams"),
    _op("get", EXTERNAL_PRICE, "fetch-price-by-external-price-id",
        "Fetch a price by external price id", "Price", "prices.external_price_id.fetch",
        response=_shape(UnitPriceJson)),
    _op("put", EXTERNAL_PRICE, "update-price-by-external-price-id",
        "Update a price's metadata by external price id", "Price",
        "prices.external_price_id.update", response=_shape(UnitPriceJson),
        body="PriceUpdateParams"),
    _op("post", PRICE + "/evaluate", "evaluate-price",
        "Evaluate a price for a customer and timeframe. " + EVALUATION, "Price",
        "prices.evaluate", response=_data(EvaluatePriceGroupJson), body="PriceEvaluateParams"),
    _op("post", "/prices/evaluate", "evaluate-multiple-prices",
        "Evaluate up to 100 prices (by id, external id or inline). " + EVALUATION, "Price",
        "prices.evaluate_multiple", response=_data(EvaluatedPriceJson),
        body="PriceEvaluateMultipleParams"),
    _op("post", "/prices/evaluate_preview_events", "evaluate-preview-events",
        "Evaluate prices over up to 500 preview events (nothing is stored)", "Price",
        "prices.evaluate_preview_events", response=_data(EvaluatedPriceJson),
        body="PriceEvaluatePreviewEventsParams"),
    _op("get", "/customers/{customer_id}/costs", "fetch-customer-costs",
        "Fetch a customer's costs per price and day", "Customer", "customers.costs.list",
        response=_data(AggregatedCostJson), params=("costs",)),
    _op("get", "/customers/external_customer_id/{external_customer_id}/costs",
        "fetch-customer-costs-external-id",
        "Fetch a customer's costs per price and day (by external customer id)", "Customer",
        "customers.costs.list_by_external_id", response=_data(AggregatedCostJson),
        params=("costs",)),
)  # fmt: skip
