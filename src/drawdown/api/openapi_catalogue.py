"""The price catalogue's part of the OpenAPI document (`api/openapi.py` merges it in): items,
billable metrics, prices, price evaluation and customer costs, with Orb's names.

Kept apart so the catalogue's routes and their description change together; it imports
nothing from `openapi.py` (which imports it), so its few schema helpers are its own.
Request bodies come from the routes' wire models (`api/schemas/catalogue.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from drawdown.api.schemas.catalogue import (
    ItemCreate,
    ItemUpdate,
    MetricCreate,
    MetricUpdate,
    PriceCreate,
    PriceEvaluate,
    PriceEvaluateMultiple,
    PriceEvaluatePreviewEvents,
    PriceUpdate,
)
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


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: Mapping[str, Schema], description: str | None = None) -> Schema:
    result: Schema = {"type": "object", "properties": dict(properties),
                      "required": list(properties)}  # fmt: skip
    if description:
        result["description"] = description
    return result


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


STRING: Schema = {"type": "string"}
INSTANT: Schema = {"type": "string", "format": "date-time"}
NULL: Schema = {"type": "null", "description": "Always null in drawdown."}
METADATA: Schema = {"type": "object", "additionalProperties": STRING}
DECIMAL: Schema = {"type": "string", "description": "An exact decimal string."}
NUMBER: Schema = {"type": "number", "description": "An exact decimal, written without exponent."}

PATH_DESCRIPTIONS = {
    "item_id": "An item id (any text for items made with `drawdown items add`).",
    "metric_id": "A billable metric id.",
    "price_id": "A price (price version) id.",
    "external_price_id": "The caller's alias for a price.",
}


# --- response objects -------------------------------------------------------------------------


def response_schemas() -> dict[str, Schema]:
    item = _obj({
        "id": STRING, "name": STRING, "created_at": INSTANT,
        "external_connections": _array(_obj({"external_connection_name": STRING,
                                             "external_entity_id": STRING})),
        "metadata": METADATA, "archived_at": _nullable(INSTANT),
    }, "An item: what prices are for and block filters name.")  # fmt: skip
    metric = _obj({
        "id": STRING, "name": STRING, "description": _nullable(STRING),
        "sql": {"type": "string", "description": SUPPORTED + "."},
        "status": {"type": "string", "enum": ["active", "archived"]}, "metadata": METADATA,
        "item": _ref("Item"), "parameter_definitions": NULL,
    }, "A billable metric in the SQL subset drawdown prices.")  # fmt: skip
    group = _obj(
        {
            "amount": DECIMAL,
            "grouping_values": _array({"anyOf": [STRING, {"type": "number"}, {"type": "boolean"}]}),
            "quantity": NUMBER,
        }
    )
    evaluated = _obj({
        "currency": STRING, "price_groups": _array(_ref("EvaluatePriceGroup")),
        "price_id": _nullable(STRING), "external_price_id": _nullable(STRING),
        "inline_price_index": _nullable({"type": "integer"}),
    })  # fmt: skip
    per_price = _obj({"price": _ref("UnitPrice"), "price_id": STRING, "subtotal": DECIMAL,
                      "total": DECIMAL, "quantity": NUMBER})  # fmt: skip
    aggregated = _obj({"per_price_costs": _array(_ref("PerPriceCost")), "subtotal": DECIMAL,
                       "total": DECIMAL, "timeframe_start": INSTANT,
                       "timeframe_end": INSTANT})  # fmt: skip
    return {
        "Item": item, "BillableMetric": metric, "UnitPrice": _unit_price(),
        "EvaluatePriceGroup": group, "EvaluatedPrice": evaluated,
        "PerPriceCost": per_price, "AggregatedCost": aggregated,
    }  # fmt: skip


def _unit_price() -> Schema:
    nulls = ("composite_price_filters", "conversion_rate", "conversion_rate_config",
             "credit_allocation", "dimensional_price_configuration", "discount",
             "fixed_price_quantity", "invoice_grouping_key", "invoicing_cycle_configuration",
             "license_type", "maximum", "maximum_amount", "minimum", "minimum_amount",
             "plan_phase_order")  # fmt: skip
    return _obj({
        "id": STRING, "name": STRING, "model_type": {"const": "unit"},
        "price_type": {"const": "usage_price"},
        "cadence": {"type": "string", "enum": list(CADENCES)},
        "billing_mode": {"const": "in_arrear"},
        "currency": {"type": "string", "description": "The pricing unit (ledger) it draws."},
        "created_at": INSTANT, "item": _obj({"id": STRING, "name": STRING}),
        "billable_metric": _nullable(_obj({"id": STRING})),
        "unit_config": _obj({"unit_amount": DECIMAL}),
        "billing_cycle_configuration": _obj({"duration": {"type": "integer"},
                                             "duration_unit": {"enum": ["day", "month"]}}),
        "metadata": METADATA, "external_price_id": _nullable(STRING),
        "replaces_price_id": {**_nullable(STRING), "description": "The version of the same "
                              "price line this one superseded from its start."},
        **{key: NULL for key in nulls},
    }, "A usage price: credits per unit of a billable metric; one version of its line "
       "(item, event name, property filters).")  # fmt: skip


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


def _page(item: str) -> Schema:
    return _obj({"data": _array(_ref(item)), "pagination_metadata": _ref("PaginationMetadata")})


def _data(item: str) -> Schema:
    return _obj({"data": _array(_ref(item))})


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
        success=201, response=_ref("Item"), body="ItemCreateParams", not_found=False),
    _op("get", "/items", "list-items", "List items, newest first", "Item", "items.list",
        response=_page("Item"), params=("pagination",), not_found=False),
    _op("get", ITEM, "fetch-item", "Fetch an item", "Item", "items.fetch",
        response=_ref("Item")),
    _op("put", ITEM, "update-item", "Update an item", "Item", "items.update",
        response=_ref("Item"), body="ItemUpdateParams"),
    _op("post", ITEM + "/archive", "archive-item",
        "Archive an item; its prices stop pricing usage from now on", "Item", "items.archive",
        response=_ref("Item")),
    _op("post", "/metrics", "create-billable-metric", "Create a billable metric", "Metric",
        "metrics.create", success=201, response=_ref("BillableMetric"),
        body="MetricCreateParams"),
    _op("get", "/metrics", "list-metrics", "List billable metrics, newest first", "Metric",
        "metrics.list", response=_page("BillableMetric"),
        params=("pagination", "created_at", "metrics"), not_found=False),
    _op("get", METRIC, "get-metric", "Fetch a billable metric", "Metric", "metrics.fetch",
        response=_ref("BillableMetric")),
    _op("put", METRIC, "update-metric", "Update a billable metric", "Metric", "metrics.update",
        response=_ref("BillableMetric"), body="MetricUpdateParams"),
    _op("post", METRIC + "/archive", "archive-metric", "Archive a billable metric", "Metric",
        "metrics.archive", response=_ref("BillableMetric")),
    _op("post", METRIC + "/unarchive", "unarchive-metric", "Unarchive a billable metric",
        "Metric", "metrics.unarchive", response=_ref("BillableMetric")),
    _op("post", "/prices", "create-price",
        "Create a unit price (a new version of its price line)", "Price", "prices.create",
        success=201, response=_ref("UnitPrice"), body="NewFloatingUnitPrice"),
    _op("get", "/prices", "list-prices", "List prices (every version), newest first",
        "Price", "prices.list", response=_page("UnitPrice"), params=("pagination",),
        not_found=False),
    _op("get", PRICE, "fetch-price", "Fetch a price", "Price", "prices.fetch",
        response=_ref("UnitPrice")),
    _op("put", PRICE, "update-price", "Update a price's metadata", "Price", "prices.update",
        response=_ref("UnitPrice"), body="PriceUpdateParams"),
    _op("get", EXTERNAL_PRICE, "fetch-price-by-external-price-id",
        "Fetch a price by external price id", "Price", "prices.external_price_id.fetch",
        response=_ref("UnitPrice")),
    _op("put", EXTERNAL_PRICE, "update-price-by-external-price-id",
        "Update a price's metadata by external price id", "Price",
        "prices.external_price_id.update", response=_ref("UnitPrice"),
        body="PriceUpdateParams"),
    _op("post", PRICE + "/evaluate", "evaluate-price",
        "Evaluate a price for a customer and timeframe. " + EVALUATION, "Price",
        "prices.evaluate", response=_data("EvaluatePriceGroup"), body="PriceEvaluateParams"),
    _op("post", "/prices/evaluate", "evaluate-multiple-prices",
        "Evaluate up to 100 prices (by id, external id or inline). " + EVALUATION, "Price",
        "prices.evaluate_multiple", response=_data("EvaluatedPrice"),
        body="PriceEvaluateMultipleParams"),
    _op("post", "/prices/evaluate_preview_events", "evaluate-preview-events",
        "Evaluate prices over up to 500 preview events (nothing is stored)", "Price",
        "prices.evaluate_preview_events", response=_data("EvaluatedPrice"),
        body="PriceEvaluatePreviewEventsParams"),
    _op("get", "/customers/{customer_id}/costs", "fetch-customer-costs",
        "Fetch a customer's costs per price and day", "Customer", "customers.costs.list",
        response=_data("AggregatedCost"), params=("costs",)),
    _op("get", "/customers/external_customer_id/{external_customer_id}/costs",
        "fetch-customer-costs-external-id",
        "Fetch a customer's costs per price and day (by external customer id)", "Customer",
        "customers.costs.list_by_external_id", response=_data("AggregatedCost"),
        params=("costs",)),
)  # fmt: skip
