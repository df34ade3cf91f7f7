"""Wire form of Orb's alerts (customer balance alerts): the request bodies and the `Alert`
object, with every key the SDK's model has (fields drawdown has no use for are null)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from drawdown.api.schemas.customers import CustomerMinifiedJson, customer_minified
from drawdown.api.schemas.instants import at
from drawdown.api.schemas.wire import Enum, Instant, Null, Number
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.errors import LedgerError
from drawdown.services.balance_alerts import TYPES, AlertView


def _threshold(value: object) -> Decimal:
    # As a pydantic error, so the 400 names the field where it sits (`thresholds.0.value`).
    try:
        return to_decimal(value, field="value")
    except LedgerError as exc:
        raise PydanticCustomError("decimal", exc.message) from exc


ThresholdValue = Annotated[Decimal, BeforeValidator(_threshold)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ThresholdParam(_Strict):
    """A balance threshold: a dropped alert fires when the available balance is ≤ value."""

    value: ThresholdValue


class AlertCreate(_Strict):
    """Body of `POST /alerts/customer_id/{id}` (and by external id)."""

    currency: str
    type: str  # checked by the service, which names Orb's plan-only types
    thresholds: list[ThresholdParam] | None = None


class AlertUpdate(_Strict):
    """Body of `PUT /alerts/{alert_configuration_id}`."""

    thresholds: list[ThresholdParam]
    price_filters: list[Any] | None = None  # cost alerts only: refused when not empty
    threshold_overrides: list[Any] | None = None  # cost alerts only: refused when not empty


def threshold_values(thresholds: list[ThresholdParam] | None) -> list[Any] | None:
    return None if thresholds is None else [t.value for t in thresholds]


class _ThresholdJson(TypedDict):
    value: Number


class _AlertStatusJson(TypedDict):
    in_alert: bool
    threshold_value: Number


class AlertJson(TypedDict):
    """A customer's credit-balance alert. `thresholds` only on `credit_balance_dropped` (null
    otherwise); `balance_alert_status` is each threshold (0 for depleted and recovered
    alerts) and whether the ledger was at or below it at its last write."""

    id: str
    created_at: Instant
    currency: str
    customer: CustomerMinifiedJson
    enabled: bool
    metric: Null
    plan: Null
    subscription: Null
    thresholds: list[_ThresholdJson] | None
    type: Annotated[str, Enum(*TYPES)]
    balance_alert_status: list[_AlertStatusJson]
    grouping_keys: Null
    license_type: Null
    price_filters: Null
    threshold_overrides: Null


def alert_json(view: AlertView) -> AlertJson:
    alert = view.alert
    return {
        "id": alert.id,
        "created_at": at(alert.created_at),
        "currency": alert.currency,
        "customer": customer_minified(view.customer),
        "enabled": alert.enabled,
        "metric": None,
        "plan": None,
        "subscription": None,
        "thresholds": [{"value": value} for value in alert.thresholds] or None,
        "type": alert.type,
        "balance_alert_status": [
            {"in_alert": in_alert, "threshold_value": value} for value, in_alert in view.status
        ],
        "grouping_keys": None,
        "license_type": None,
        "price_filters": None,
        "threshold_overrides": None,
    }
