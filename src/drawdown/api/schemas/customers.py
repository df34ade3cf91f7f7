"""Wire models for customers: request bodies (typed, strict) and the Customer object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from drawdown.api.schemas.money import money_text
from drawdown.ledger.dates import format_instant
from drawdown.records import Customer

PaymentProvider = Literal[
    "quickbooks", "bill.com", "stripe_charge", "stripe_invoice", "netsuite", "adyen"
]


class Address(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    city: str | None = None
    country: str | None = None
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    state: str | None = None


class TaxId(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    country: str
    type: str
    value: str


class _CustomerFields(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    external_customer_id: str | None = None
    currency: str | None = None
    metadata: dict[str, str | None] | None = None
    auto_collection: bool | None = None
    auto_issuance: bool | None = None
    email_delivery: bool | None = None
    additional_emails: list[str] | None = None
    payment_provider: PaymentProvider | None = None
    payment_provider_id: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    tax_id: TaxId | None = None


class CustomerCreate(_CustomerFields):
    name: str
    email: str
    timezone: str | None = None


class CustomerUpdate(_CustomerFields):
    name: str | None = None
    email: str | None = None
    default_payment_method_id: str | None = None


def service_fields(model: BaseModel) -> dict[str, Any]:
    """Sent fields as plain data (nested models as dicts), nulls preserved."""
    data = model.model_dump(include=model.model_fields_set)
    return data


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_customer_id": customer.external_customer_id,
        "name": customer.name,
        "email": customer.email,
        "additional_emails": list(customer.additional_emails),
        "currency": customer.currency,
        "timezone": customer.timezone,
        "metadata": dict(customer.metadata),
        "created_at": format_instant(customer.created_at, fractions=True),
        # The cash balance (money, never credits); "0.00" until a transaction moves it.
        "balance": money_text(customer.cash_balance, customer.currency or ""),
        "auto_collection": customer.auto_collection,
        "auto_issuance": customer.auto_issuance,
        "email_delivery": customer.email_delivery,
        "payment_provider": customer.payment_provider,
        "payment_provider_id": customer.payment_provider_id,
        "billing_address": address_json(customer.billing_address),
        "shipping_address": address_json(customer.shipping_address),
        "tax_id": customer.tax_id,
        "hierarchy": {"children": [], "parent": None},
        "portal_url": None,
        "exempt_from_automated_tax": None,
        "automatic_tax_enabled": False,
        "accounting_sync_configuration": None,
        "default_payment_method": None,
        "payment_configuration": None,
        "reporting_configuration": None,
    }


def address_json(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return {key: value.get(key) for key in keys}


def customer_minified(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "external_customer_id": customer.external_customer_id}
