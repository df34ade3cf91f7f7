"""Wire models for customers: request bodies (typed, strict) and the Customer object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import RowMapping

from drawdown.ledger.dates import format_instant

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


def customer_json(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "external_customer_id": row["external_customer_id"],
        "name": row["name"],
        "email": row["email"],
        "additional_emails": list(row["additional_emails"]),
        "currency": row["currency"],
        "timezone": row["timezone"],
        "metadata": dict(row["metadata"]),
        "created_at": format_instant(row["created_at"], fractions=True),
        "balance": "0.00",
        "auto_collection": row["auto_collection"],
        "auto_issuance": row["auto_issuance"],
        "email_delivery": row["email_delivery"],
        "payment_provider": row["payment_provider"],
        "payment_provider_id": row["payment_provider_id"],
        "billing_address": _address(row["billing_address"]),
        "shipping_address": _address(row["shipping_address"]),
        "tax_id": row["tax_id"],
        "hierarchy": {"children": [], "parent": None},
        "portal_url": None,
        "exempt_from_automated_tax": None,
        "automatic_tax_enabled": False,
        "accounting_sync_configuration": None,
        "default_payment_method": None,
        "payment_configuration": None,
        "reporting_configuration": None,
    }


def _address(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return {key: value.get(key) for key in keys}


def customer_minified(row: RowMapping) -> dict[str, Any]:
    return {"id": row["id"], "external_customer_id": row["external_customer_id"]}
