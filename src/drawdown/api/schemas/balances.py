"""Wire form of the drawdown extensions on credits: the balance summary, the credit
settings (request and response), and the preview's request (a decrement body)."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from drawdown.api.schemas.alerts import ThresholdValue
from drawdown.api.schemas.wire import Enum, Number
from drawdown.ledger.balances import Summary
from drawdown.services.credits.credit_settings import CreditSettings
from drawdown.services.entry_input import DecrementRequest


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ThresholdIn(_Strict):
    """A `customer.credit_balance_dropped` threshold: fires when available ≤ value."""

    currency: str | None = None  # default: the `credits` ledger
    value: ThresholdValue


class CreditSettingsUpdate(_Strict):
    """Body of `PUT …/credits/settings`: only the fields sent change."""

    overdraft: Literal["allow", "refuse"] | None = None
    balance_alert_thresholds: list[ThresholdIn] | None = None


class DecrementPreview(DecrementRequest):
    """Body of `POST …/credits/ledger_entry/preview`: exactly a decrement request."""


class CreditBalanceSummaryJson(TypedDict):
    """drawdown extension: a ledger's balance in parts that add up to `total`."""

    currency: str
    available: Number
    scheduled: Number
    awaiting_payment: Number
    total: Number


class _ThresholdJson(TypedDict):
    currency: str
    value: Number


Overdraft = Annotated[str, Enum("allow", "refuse")]


class CreditSettingsJson(TypedDict):
    """drawdown extension: a customer's overdraft policy and balance-alert thresholds."""

    customer_id: str
    overdraft: Overdraft | None
    effective_overdraft: Overdraft
    balance_alert_thresholds: list[_ThresholdJson]


def summary_json(summary: Summary) -> CreditBalanceSummaryJson:
    return {
        "currency": summary.currency,
        "available": summary.available,
        "scheduled": summary.scheduled,
        "awaiting_payment": summary.awaiting_payment,
        "total": summary.total,
    }


def settings_json(settings: CreditSettings) -> CreditSettingsJson:
    return {
        "customer_id": settings.customer.id,
        "overdraft": settings.overdraft,
        "effective_overdraft": settings.effective_overdraft,
        "balance_alert_thresholds": [
            {"currency": currency, "value": value} for currency, value in settings.thresholds
        ],
    }
