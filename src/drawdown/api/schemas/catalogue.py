"""Wire form of the price catalogue: Orb's Item, BillableMetric and (unit) Price objects,
price evaluations and customer costs, and the request bodies (typed, strict; what a field
means and whether it is supported is the services' to say, so fields are optional here
and the service names the first one missing or refused)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant
from drawdown.services.usage.costs import CostReport, Window
from drawdown.services.usage.evaluate import Evaluated
from drawdown.services.usage.items import CatalogueItem
from drawdown.services.usage.metrics import MetricRecord
from drawdown.services.usage.prices import PriceRecord

Metadata = dict[str, str | None] | None


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ItemCreate(_Strict):
    name: str | None = None
    metadata: Metadata = None


class ExternalConnection(_Strict):
    external_connection_name: str
    external_entity_id: str


class ItemUpdate(_Strict):
    name: str | None = None
    metadata: Metadata = None
    external_connections: list[ExternalConnection] | None = None


class MetricCreate(_Strict):
    name: str | None = None
    sql: str | None = None
    item_id: str | None = None
    description: str | None = None
    metadata: Metadata = None


class MetricUpdate(_Strict):
    name: str | None = None
    description: str | None = None
    metadata: Metadata = None


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
    metadata: Metadata = None
    # Not supported by drawdown: refused (400) when set.
    conversion_rate: Any = None
    conversion_rate_config: Any = None
    dimensional_price_configuration: Any = None
    fixed_price_quantity: Any = None
    invoice_grouping_key: Any = None
    invoicing_cycle_configuration: Any = None
    license_type_id: Any = None


class PriceUpdate(_Strict):
    metadata: Metadata = None


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


def _at(value: Any) -> str | None:
    return None if value is None else format_instant(value, fractions=True)


def item_json(item: CatalogueItem) -> dict[str, Any]:
    return {
        "id": item.id, "name": item.name, "created_at": _at(item.created_at),
        "external_connections": [dict(c) for c in item.external_connections],
        "metadata": dict(item.metadata), "archived_at": _at(item.archived_at),
    }  # fmt: skip


def metric_json(record: MetricRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "description": record.description,
        "sql": record.sql, "status": record.status, "metadata": dict(record.metadata),
        "item": item_json(record.item), "parameter_definitions": None,
    }  # fmt: skip


def price_json(record: PriceRecord) -> dict[str, Any]:
    version = record.version
    metric = record.billable_metric_id
    return {
        "id": record.id, "name": record.name, "model_type": "unit",
        "price_type": "usage_price", "cadence": record.cadence, "billing_mode": "in_arrear",
        "currency": version.currency, "created_at": _at(record.created_at),
        "item": {"id": version.item_id, "name": record.item_name},
        "billable_metric": None if metric is None else {"id": metric},
        "unit_config": {"unit_amount": format_decimal(version.credits_per_unit)},
        "billing_cycle_configuration": {"duration": record.cycle[0],
                                        "duration_unit": record.cycle[1]},
        "metadata": dict(record.metadata), "external_price_id": record.external_price_id,
        "replaces_price_id": record.replaces_price_id,
        **{key: None for key in _NULL_PRICE_FIELDS},
    }  # fmt: skip


_NULL_PRICE_FIELDS = (
    "composite_price_filters", "conversion_rate", "conversion_rate_config",
    "credit_allocation", "dimensional_price_configuration", "discount",
    "fixed_price_quantity", "invoice_grouping_key", "invoicing_cycle_configuration",
    "license_type", "maximum", "maximum_amount", "minimum", "minimum_amount",
    "plan_phase_order",
)  # fmt: skip


def groups_json(evaluated: Evaluated) -> list[dict[str, Any]]:
    return [{"amount": format_decimal(usage.amount), "grouping_values": list(values),
             "quantity": usage.quantity} for values, usage in evaluated.groups]  # fmt: skip


def evaluated_json(evaluated: Evaluated) -> dict[str, Any]:
    return {
        "currency": evaluated.currency, "price_groups": groups_json(evaluated),
        "price_id": evaluated.price_id, "external_price_id": evaluated.external_price_id,
        "inline_price_index": evaluated.inline_price_index,
    }  # fmt: skip


def costs_json(report: CostReport) -> dict[str, Any]:
    return {"data": [_window_json(window, report) for window in report.windows]}


def _window_json(window: Window, report: CostReport) -> dict[str, Any]:
    per_price = [
        {"price": price_json(report.prices[price_id]), "price_id": price_id,
         "subtotal": format_decimal(usage.amount), "total": format_decimal(usage.amount),
         "quantity": usage.quantity}
        for price_id, usage in sorted(window.costs.items())
    ]  # fmt: skip
    total = format_decimal(window.total)
    return {"timeframe_start": _at(window.start), "timeframe_end": _at(window.end),
            "subtotal": total, "total": total, "per_price_costs": per_price}  # fmt: skip
