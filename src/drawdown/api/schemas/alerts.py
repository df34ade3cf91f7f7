"""Wire form of Orb's alerts (customer balance alerts): the request bodies and the `Alert`
object, with every key the SDK's model has (fields drawdown has no use for are null)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant
from drawdown.ledger.errors import LedgerError
from drawdown.services.balance_alerts import AlertView


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


def alert_json(view: AlertView) -> dict[str, Any]:
    alert, customer = view.alert, view.customer
    return {
        "id": alert.id,
        "created_at": format_instant(alert.created_at, fractions=True),
        "currency": alert.currency,
        "customer": {"id": customer.id, "external_customer_id": customer.external_customer_id},
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
