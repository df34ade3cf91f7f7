"""Wire models for customers: request bodies (typed, strict) and the Customer object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypedDict, get_args

from pydantic import BaseModel, ConfigDict

from drawdown.api.schemas.instants import at
from drawdown.api.schemas.money import money_text
from drawdown.api.schemas.wire import Doc, EmptyList, Enum, Instant, Metadata, Null
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


class AddressJson(TypedDict):
    city: str | None
    country: str | None
    line1: str | None
    line2: str | None
    postal_code: str | None
    state: str | None


class CustomerTaxIdJson(TypedDict):
    country: str
    type: str
    value: str


class _HierarchyJson(TypedDict):
    children: EmptyList
    parent: Null


class CustomerJson(TypedDict):
    """A customer (docs/rules.md §3.1)."""

    id: str
    external_customer_id: str | None
    name: str
    email: str
    additional_emails: list[str]
    currency: str | None
    timezone: str
    metadata: Metadata
    created_at: Instant
    balance: Annotated[str, Doc("The cash balance (money, not credits), moved by balance "
                                'transactions; `"0.00"` until one does.')]  # fmt: skip
    auto_collection: bool
    auto_issuance: bool | None
    email_delivery: bool
    payment_provider: Annotated[str, Enum(*get_args(PaymentProvider))] | None
    payment_provider_id: str | None
    billing_address: AddressJson | None
    shipping_address: AddressJson | None
    tax_id: CustomerTaxIdJson | None
    hierarchy: _HierarchyJson
    portal_url: Null
    exempt_from_automated_tax: Null
    automatic_tax_enabled: bool
    accounting_sync_configuration: Null
    default_payment_method: Null
    payment_configuration: Null
    reporting_configuration: Null


class CustomerMinifiedJson(TypedDict):
    id: str
    external_customer_id: str | None


def customer_json(customer: Customer) -> CustomerJson:
    return {
        "id": customer.id,
        "external_customer_id": customer.external_customer_id,
        "name": customer.name,
        "email": customer.email,
        "additional_emails": list(customer.additional_emails),
        "currency": customer.currency,
        "timezone": customer.timezone,
        "metadata": dict(customer.metadata),
        "created_at": at(customer.created_at),
        # The cash balance (money, never credits); "0.00" until a transaction moves it.
        "balance": money_text(customer.cash_balance, customer.currency or ""),
        "auto_collection": customer.auto_collection,
        "auto_issuance": customer.auto_issuance,
        "email_delivery": customer.email_delivery,
        "payment_provider": customer.payment_provider,
        "payment_provider_id": customer.payment_provider_id,
        "billing_address": address_json(customer.billing_address),
        "shipping_address": address_json(customer.shipping_address),
        "tax_id": tax_id_json(customer.tax_id),
        "hierarchy": {"children": [], "parent": None},
        "portal_url": None,
        "exempt_from_automated_tax": None,
        "automatic_tax_enabled": False,
        "accounting_sync_configuration": None,
        "default_payment_method": None,
        "payment_configuration": None,
        "reporting_configuration": None,
    }


def address_json(value: Mapping[str, Any] | None) -> AddressJson | None:
    if value is None:
        return None
    get = value.get
    return {
        "city": get("city"), "country": get("country"), "line1": get("line1"),
        "line2": get("line2"), "postal_code": get("postal_code"), "state": get("state"),
    }  # fmt: skip


def tax_id_json(value: Mapping[str, Any] | None) -> CustomerTaxIdJson | None:
    """The stored tax id (a `TaxId` as sent: exactly these three keys)."""
    if value is None:
        return None
    return {"country": value["country"], "type": value["type"], "value": value["value"]}


def customer_minified(customer: Customer) -> CustomerMinifiedJson:
    return {"id": customer.id, "external_customer_id": customer.external_customer_id}
