"""Wire form of the price catalogue: Orb's Item, BillableMetric and (unit) Price objects,
price evaluations and customer costs, and the request bodies (typed, strict; what a field
means and whether it is supported is the services' to say, so fields are optional here
and the service names the first one missing or refused)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from drawdown.api.schemas.instants import at
from drawdown.api.schemas.wire import DecimalString, Doc, Enum, Instant, Metadata, Null, Number
from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.evaluation import GroupValue
from drawdown.ledger.metric_sql import SUPPORTED
from drawdown.services.usage.costs import CostReport, Window
from drawdown.services.usage.evaluate import Evaluated
from drawdown.services.usage.items import CatalogueItem
from drawdown.services.usage.metrics import MetricRecord
from drawdown.services.usage.price_input import CADENCES
from drawdown.services.usage.prices import PriceRecord

MetadataPatch = dict[str, str | None] | None  # merged: a null removes its key


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ItemCreate(_Strict):
    name: str | None = None
    metadata: MetadataPatch = None


class ExternalConnection(_Strict):
    external_connection_name: str
    external_entity_id: str


class ItemUpdate(_Strict):
    name: str | None = None
    metadata: MetadataPatch = None
    external_connections: list[ExternalConnection] | None = None


class MetricCreate(_Strict):
    name: str | None = None
    sql: str | None = None
    item_id: str | None = None
    description: str | None = None
    metadata: MetadataPatch = None


class MetricUpdate(_Strict):
    name: str | None = None
    description: str | None = None
    metadata: MetadataPatch = None


class UnitConfig(_Strict):
    unit_amount: str | None = None
    prorated: bool | None = None
    scaling_factor: Any = None


class BillingCycleConfiguration(_Strict):
    duration: int
    duration_unit: str


class PriceCreate(_Strict):
    model_type: str | None = None
    cadence: str | None = None
    currency: str | None = None
    item_id: str | None = None
    name: str | None = None
    unit_config: UnitConfig | None = None
    billable_metric_id: str | None = None
    billed_in_advance: bool | None = None
    billing_cycle_configuration: BillingCycleConfiguration | None = None
    external_price_id: str | None = None
    metadata: MetadataPatch = None
    # Not supported by drawdown: refused (400) when set.
    conversion_rate: Any = None
    conversion_rate_config: Any = None
    dimensional_price_configuration: Any = None
    fixed_price_quantity: Any = None
    invoice_grouping_key: Any = None
    invoicing_cycle_configuration: Any = None
    license_type_id: Any = None


class PriceUpdate(_Strict):
    metadata: MetadataPatch = None


class _Scope(_Strict):
    timeframe_start: str
    timeframe_end: str
    customer_id: str | None = None
    external_customer_id: str | None = None


class PriceEvaluate(_Scope):
    filter: str | None = None
    grouping_keys: list[str] = []
    metric_parameter_overrides: dict[str, Any] | None = None


class PriceEvaluation(_Strict):
    price_id: str | None = None
    external_price_id: str | None = None
    price: PriceCreate | None = None
    filter: str | None = None
    grouping_keys: list[str] = []
    metric_parameter_overrides: dict[str, Any] | None = None


class PriceEvaluateMultiple(_Scope):
    price_evaluations: list[PriceEvaluation] = []


class PreviewEvent(_Strict):
    event_name: str
    properties: dict[str, Any]
    timestamp: str
    customer_id: str | None = None
    external_customer_id: str | None = None


class PriceEvaluatePreviewEvents(PriceEvaluateMultiple):
    events: list[PreviewEvent] = []


# --- objects -----------------------------------------------------------------------------------


class _ExternalConnectionJson(TypedDict):
    external_connection_name: str
    external_entity_id: str


class ItemJson(TypedDict):
    """An item: what prices are for and block filters name."""

    id: str
    name: str
    created_at: Instant
    external_connections: list[_ExternalConnectionJson]
    metadata: Metadata
    archived_at: Instant | None


class BillableMetricJson(TypedDict):
    """A billable metric in the SQL subset drawdown prices."""

    id: str
    name: str
    description: str | None
    sql: Annotated[str, Doc(SUPPORTED + ".")]
    status: Annotated[str, Enum("active", "archived")]
    metadata: Metadata
    item: ItemJson
    parameter_definitions: Null


class _PriceItemJson(TypedDict):
    id: str
    name: str


class _IdJson(TypedDict):
    id: str


class _UnitConfigJson(TypedDict):
    unit_amount: DecimalString


class _BillingCycleJson(TypedDict):
    duration: int
    duration_unit: Annotated[str, Enum("day", "month")]


class UnitPriceJson(TypedDict):
    """A usage price: credits per unit of a billable metric; one version of its line (item,
    event name, property filters)."""

    id: str
    name: str
    model_type: Literal["unit"]
    price_type: Literal["usage_price"]
    cadence: Annotated[str, Enum(*CADENCES)]
    billing_mode: Literal["in_arrear"]
    currency: Annotated[str, Doc("The pricing unit (ledger) it draws.")]
    created_at: Instant
    item: _PriceItemJson
    billable_metric: _IdJson | None
    unit_config: _UnitConfigJson
    billing_cycle_configuration: _BillingCycleJson
    metadata: Metadata
    external_price_id: str | None
    replaces_price_id: Annotated[str | None, Doc("The version of the same price line this "
                                                 "one superseded from its start.")]  # fmt: skip
    composite_price_filters: Null
    conversion_rate: Null
    conversion_rate_config: Null
    credit_allocation: Null
    dimensional_price_configuration: Null
    discount: Null
    fixed_price_quantity: Null
    invoice_grouping_key: Null
    invoicing_cycle_configuration: Null
    license_type: Null
    maximum: Null
    maximum_amount: Null
    minimum: Null
    minimum_amount: Null
    plan_phase_order: Null


class EvaluatePriceGroupJson(TypedDict):
    amount: DecimalString
    grouping_values: list[GroupValue]
    quantity: Number


class EvaluatedPriceJson(TypedDict):
    currency: str
    price_groups: list[EvaluatePriceGroupJson]
    price_id: str | None
    external_price_id: str | None
    inline_price_index: int | None


class PerPriceCostJson(TypedDict):
    price: UnitPriceJson
    price_id: str
    subtotal: DecimalString
    total: DecimalString
    quantity: Number


class AggregatedCostJson(TypedDict):
    per_price_costs: list[PerPriceCostJson]
    subtotal: DecimalString
    total: DecimalString
    timeframe_start: Instant
    timeframe_end: Instant


class CostsJson(TypedDict):
    data: list[AggregatedCostJson]


def item_json(item: CatalogueItem) -> ItemJson:
    return {
        "id": item.id, "name": item.name, "created_at": at(item.created_at),
        "external_connections": [
            {"external_connection_name": c["external_connection_name"],
             "external_entity_id": c["external_entity_id"]}
            for c in item.external_connections
        ],
        "metadata": dict(item.metadata), "archived_at": at(item.archived_at),
    }  # fmt: skip


def metric_json(record: MetricRecord) -> BillableMetricJson:
    return {
        "id": record.id, "name": record.name, "description": record.description,
        "sql": record.sql, "status": record.status, "metadata": dict(record.metadata),
        "item": item_json(record.item), "parameter_definitions": None,
    }  # fmt: skip


def price_json(record: PriceRecord) -> UnitPriceJson:
    version = record.version
    metric = record.billable_metric_id
    return {
        "id": record.id, "name": record.name, "model_type": "unit",
        "price_type": "usage_price", "cadence": record.cadence, "billing_mode": "in_arrear",
        "currency": version.currency, "created_at": at(record.created_at),
        "item": {"id": version.item_id, "name": record.item_name},
        "billable_metric": None if metric is None else {"id": metric},
        "unit_config": {"unit_amount": format_decimal(version.credits_per_unit)},
        "billing_cycle_configuration": {"duration": record.cycle[0],
                                        "duration_unit": record.cycle[1]},
        "metadata": dict(record.metadata), "external_price_id": record.external_price_id,
        "replaces_price_id": record.replaces_price_id,
        "composite_price_filters": None, "conversion_rate": None, "conversion_rate_config": None,
        "credit_allocation": None, "dimensional_price_configuration": None, "discount": None,
        "fixed_price_quantity": None, "invoice_grouping_key": None,
        "invoicing_cycle_configuration": None, "license_type": None, "maximum": None,
        "maximum_amount": None, "minimum": None, "minimum_amount": None,
        "plan_phase_order": None,
    }  # fmt: skip


def groups_json(evaluated: Evaluated) -> list[EvaluatePriceGroupJson]:
    return [{"amount": format_decimal(usage.amount), "grouping_values": list(values),
             "quantity": usage.quantity} for values, usage in evaluated.groups]  # fmt: skip


def evaluated_json(evaluated: Evaluated) -> EvaluatedPriceJson:
    return {
        "currency": evaluated.currency, "price_groups": groups_json(evaluated),
        "price_id": evaluated.price_id, "external_price_id": evaluated.external_price_id,
        "inline_price_index": evaluated.inline_price_index,
    }  # fmt: skip


def costs_json(report: CostReport) -> CostsJson:
    return {"data": [_window_json(window, report) for window in report.windows]}


def _window_json(window: Window, report: CostReport) -> AggregatedCostJson:
    per_price: list[PerPriceCostJson] = [
        {"price": price_json(report.prices[price_id]), "price_id": price_id,
         "subtotal": format_decimal(usage.amount), "total": format_decimal(usage.amount),
         "quantity": usage.quantity}
        for price_id, usage in sorted(window.costs.items())
    ]  # fmt: skip
    total = format_decimal(window.total)
    return {"timeframe_start": at(window.start), "timeframe_end": at(window.end),
            "subtotal": total, "total": total, "per_price_costs": per_price}  # fmt: skip
