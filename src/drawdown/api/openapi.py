"""The API reference: one OpenAPI 3.1 document of every /v1 route, with Orb's names.

The API is served by Starlette's router, not FastAPI's, so nothing generates this
document from the routes: paths, parameters and operations are declared here. Request bodies
come from the wire models the routes validate with (`api/schemas`, `services/entry_input.py`),
so a field added there shows up here (the few bodies read by hand are written out below).
Response objects come from their one declaration: the `TypedDict` each builder returns
(`CustomerJson` for `customer_json`, …, api/schemas/wire.py), listed in `RESPONSE_SHAPES`.
`OPERATIONS` is the table from route to document entry, one row per (method, path);
`tests/api/test_openapi.py` checks it against the routes the app serves, so a new route fails
CI until it has its row, and `tests/api/test_openapi_responses.py` calls every route of the
served document and checks each answer against its schema.

Names follow Orb: paths are relative to the server `/v1` (as in Orb's own reference and
docs/rules.md §2), schemas carry the SDK's model names (`Customer`, `IncrementLedgerEntry`, …),
operations Orb's reference slugs, and `x-sdk-method` the `orb-billing` call.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from drawdown.api import openapi_catalogue
from drawdown.api.errors import ERROR_TYPES, TYPE_PREFIX, ErrorJson
from drawdown.api.pagination import PaginationMetadataJson
from drawdown.api.schemas.alerts import AlertCreate, AlertJson, AlertUpdate
from drawdown.api.schemas.balances import (
    CreditBalanceSummaryJson,
    CreditSettingsJson,
    CreditSettingsUpdate,
)
from drawdown.api.schemas.credit_notes import (
    BalanceTransactionCreateRequest,
    CreditNoteCreateRequest,
    CreditNoteJson,
    CreditNoteLineItemJson,
)
from drawdown.api.schemas.customers import (
    AddressJson,
    CustomerCreate,
    CustomerJson,
    CustomerMinifiedJson,
    CustomerTaxIdJson,
    CustomerUpdate,
)
from drawdown.api.schemas.events import (
    BackfillJson,
    EventDeprecateResponseJson,
    EventIngestResponseJson,
    EventJson,
    EventSearchResponseJson,
    EventUpdateResponseJson,
    EventVolumeJson,
    EventVolumesJson,
)
from drawdown.api.schemas.invoices import (
    CreditBlockInvoiceJson,
    CustomerBalanceTransactionJson,
    InvoiceCreditNoteJson,
    InvoiceJson,
    InvoiceLineItemJson,
    InvoiceUpdateRequest,
    MarkPaidRequest,
    PriceJson,
    TopUpJson,
    TopUpRequest,
)
from drawdown.api.schemas.ledger import (
    AffectedBlockJson,
    CreditBlockFilterJson,
    CreditBlockInvoicesJson,
    CreditBlockJson,
    LedgerEntryJson,
)
from drawdown.api.schemas.ping import PingResponseJson
from drawdown.api.schemas.wire import component_name, component_schemas, nullable, ref, variants
from drawdown.ledger.amounts import FRACTION_DIGITS_MAX, INTEGER_DIGITS_MAX
from drawdown.services.balance_alerts import THRESHOLDS_MAX, TYPES
from drawdown.services.currencies import CUSTOM_UNIT_LENGTH_MAX, MINOR_UNITS
from drawdown.services.customers import EMAILS_MAX, EXTERNAL_ID_LENGTH_MAX, NAME_LENGTH_MAX
from drawdown.services.emails import EMAIL_LENGTH_MAX
from drawdown.services.entry_input import (
    ENTRY_TYPES,
    AmendmentRequest,
    DecrementRequest,
    ExpirationChangeRequest,
    IncrementRequest,
    VoidRequest,
)
from drawdown.services.usage.events import EVENT_IDS_MAX, VOLUME_DAYS_MAX
from drawdown.settings import Settings

Schema = dict[str, Any]
OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
PUBLIC_PATHS = frozenset({OPENAPI_PATH, DOCS_PATH})  # relative to /v1; no API key needed

# --- schema helpers ------------------------------------------------------------------------


def obj(properties: Mapping[str, Schema], description: str | None = None) -> Schema:
    """An object whose listed keys are all always present (docs/rules.md §3)."""
    result: Schema = {"type": "object", "properties": dict(properties),
                      "required": list(properties)}  # fmt: skip
    if description:
        result["description"] = description
    return result


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def shape(declared: Any) -> Schema:
    """A response shape's component, by reference."""
    return ref(component_name(declared))


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
DECIMAL_STRING: Schema = {"type": "string", "description": "A decimal string (ASCII digits)."}
INSTANT: Schema = {"type": "string", "format": "date-time"}


# --- response objects: declared once, beside their builders (api/schemas/wire.py) ---------

RESPONSE_SHAPES: tuple[Any, ...] = (
    PingResponseJson, PaginationMetadataJson, ErrorJson,
    AddressJson, CustomerTaxIdJson, CustomerJson, CustomerMinifiedJson,
    CreditBlockFilterJson, CreditBlockJson, AffectedBlockJson, *variants(LedgerEntryJson).values(),
    LedgerEntryJson, CreditBalanceSummaryJson, CreditSettingsJson, TopUpJson,
    PriceJson, InvoiceLineItemJson, InvoiceJson, CreditBlockInvoiceJson, CreditBlockInvoicesJson,
    CreditNoteLineItemJson, CreditNoteJson, InvoiceCreditNoteJson, CustomerBalanceTransactionJson,
    AlertJson,
    EventIngestResponseJson, EventUpdateResponseJson, EventDeprecateResponseJson,
    EventSearchResponseJson, EventJson, EventVolumeJson, EventVolumesJson, BackfillJson,
    *openapi_catalogue.RESPONSE_SHAPES,
)  # fmt: skip
assert set(variants(LedgerEntryJson)) == set(ENTRY_TYPES)


# --- request bodies (the routes' own models) ------------------------------------------------

# model -> component name (Orb's names where Orb has one)
REQUEST_MODELS: Mapping[type[BaseModel], str] = {
    CustomerCreate: "NewCustomer",
    CustomerUpdate: "EditCustomer",
    IncrementRequest: "AddIncrementCreditLedgerEntryRequestParams",
    DecrementRequest: "AddDecrementCreditLedgerEntryRequestParams",
    ExpirationChangeRequest: "AddExpirationChangeCreditLedgerEntryRequestParams",
    VoidRequest: "AddVoidCreditLedgerEntryRequestParams",
    AmendmentRequest: "AddAmendmentCreditLedgerEntryRequestParams",
    TopUpRequest: "AddCreditTopUpRequestParams",
    MarkPaidRequest: "MarkInvoiceAsPaidRequestParams",
    CreditSettingsUpdate: "UpdateCreditSettingsRequestParams",
    InvoiceUpdateRequest: "EditInvoiceRequestParams",
    CreditNoteCreateRequest: "NewCreditNoteRequestParams",
    BalanceTransactionCreateRequest: "NewCustomerBalanceTransactionRequestParams",
    AlertCreate: "CreateCustomerAlertRequestParams",
    AlertUpdate: "UpdateAlertRequestParams",
}
# nested models' class names -> component names
NESTED_NAMES = {
    "Address": "Address",
    "TaxId": "CustomerTaxId",
    "FilterIn": "NewCreditBlockFilter",
    "IncrementInvoiceSettings": "CreditLedgerInvoiceSettingsRequestParams",
    "TopUpInvoiceSettings": "TopUpInvoiceSettingsRequestParams",
    "ThresholdIn": "BalanceAlertThresholdRequestParams",
    "CreditNoteLineItemRequest": "NewCreditNoteLineItemRequestParams",
    "ThresholdParam": "ThresholdRequestParams",
}


def _request_schemas(settings: Settings) -> dict[str, Schema]:
    """JSON Schemas of the request models, under the component names above.

    Input and output share `Address` and `CustomerTaxId`: the request form (all optional
    for an address) is kept under `…Input` names so output stays exact.
    """
    _, top = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    names = {model.__name__: name for model, name in REQUEST_MODELS.items()}
    names.update({k: f"{v}Input" if v in ("Address", "CustomerTaxId") else v
                  for k, v in NESTED_NAMES.items()})  # fmt: skip
    defs: dict[str, Schema] = top.get("$defs", {})
    unknown = set(defs) - set(names)
    assert not unknown, f"name these request schemas in NESTED_NAMES: {sorted(unknown)}"
    renamed = {names[key]: _renamed(value, names) for key, value in defs.items()}
    for component, properties in refinements(settings).items():
        for prop, schema in properties.items():
            _refine(renamed[component], prop, schema)
    ledger_body = {
        "oneOf": [ref(REQUEST_MODELS[m]) for m in (IncrementRequest, DecrementRequest,
                  ExpirationChangeRequest, VoidRequest, AmendmentRequest)],
        "discriminator": {"propertyName": "entry_type"},
        "description": "One of five request shapes, selected by `entry_type` (docs/rules.md §3.5). "
                       "Fields of another shape are refused (400).",
    }  # fmt: skip
    renamed["AddCreditLedgerEntryRequestParams"] = ledger_body
    renamed["UpdateCreditBlockRequestParams"] = {
        "type": "object",
        "properties": {"metadata": nullable({"type": "object",
                                             "additionalProperties": nullable(STRING)})},
        "description": "Only `metadata` can change (merge semantics, docs/rules.md §1.6).",
    }  # fmt: skip
    renamed["IssueInvoiceRequestParams"] = {
        "type": "object", "properties": {"synchronous": BOOLEAN},
        "description": "Accepted and ignored.",
    }  # fmt: skip
    return renamed


def refinements(settings: Settings) -> dict[str, dict[str, Schema]]:
    """The rules the services check beyond the models' types (docs/rules.md §1.6, §2, §3.5), so the
    document states them and schema-driven clients and fuzzers send what can succeed."""
    fraction = FRACTION_DIGITS_MAX
    integer = INTEGER_DIGITS_MAX
    positive = (
        f"^0*([1-9][0-9]{{0,{integer - 1}}}(\\.[0-9]{{1,{fraction}}}0*)?"
        f"|0\\.[0-9]{{0,{fraction - 1}}}[1-9]0*)$"
    )
    below = 10**integer  # the server's range (ledger/amounts.py), stated exactly
    amount = {"anyOf": [
        {"type": "integer", "minimum": 1, "exclusiveMaximum": below},
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": below},
        {"type": "string", "pattern": positive},
    ], "description": f"Credits, > 0 and < 10^{integer}: a JSON number or a decimal string "
                      f"(ASCII digits, nothing around them); at most {fraction} fractional "
                      "digits."}  # fmt: skip
    decimal = {"type": "string",
               "pattern": f"^0*[0-9]{{1,{integer}}}(\\.[0-9]{{1,{fraction}}}0*)?$",
               "description": f"A decimal string, ≥ 0 and < 10^{integer}."}  # fmt: skip
    below_one = "0\\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])"
    money = {"type": "string", "pattern": f"^([1-9][0-9]{{0,17}}(\\.[0-9]{{1,4}})?|{below_one})$",
             "description": "Money, > 0: a decimal string with at most the currency's minor "
                            "unit of decimals (2 for USD)."}  # fmt: skip
    day_or_instant = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}],
                      "description": "A date (midnight in the customer's timezone) or an "
                                     "ISO 8601 date-time (no offset: UTC)."}  # fmt: skip
    day = {"type": "string", "format": "date"}
    block = {"type": "string", "minLength": 1}
    unit = {"type": "string", "minLength": 1, "maxLength": CUSTOM_UNIT_LENGTH_MAX,
            "description": "The ledger: an ISO 4217 code (the customer's currency) or a "
                           "custom pricing unit; default `credits`."}  # fmt: skip
    metadata = {
        "type": "object", "maxProperties": settings.metadata_keys_max,
        "propertyNames": {"minLength": 1, "maxLength": settings.metadata_key_length_max},
        "additionalProperties": nullable(
            {"type": "string", "maxLength": settings.metadata_value_length_max}),
        "description": "Merged into the stored metadata; a `null` value removes its key, "
                       "`null` metadata clears it.",
    }  # fmt: skip
    email: Schema = {"type": "string", "format": "email", "maxLength": EMAIL_LENGTH_MAX}
    customer: dict[str, Schema] = {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH_MAX,
                 "pattern": "\\S"},
        "email": email,
        "external_customer_id": {"type": "string", "minLength": 1,
                                 "maxLength": EXTERNAL_ID_LENGTH_MAX},
        "currency": {"type": "string", "enum": sorted(MINOR_UNITS),
                     "description": "ISO 4217 (case-insensitive); set once."},
        "additional_emails": {"type": "array", "items": email, "maxItems": EMAILS_MAX - 1},
        "metadata": metadata,
    }  # fmt: skip
    entry: dict[str, Schema] = {
        "currency": unit,
        "metadata": metadata,
        "description": {"type": "string", "maxLength": settings.description_length_max},
    }
    return {
        "NewCustomer": {**customer, "timezone": {"type": "string", "examples": ["UTC",
                        "America/Los_Angeles"], "description": "An IANA time zone name."}},
        "EditCustomer": customer,
        "AddIncrementCreditLedgerEntryRequestParams": {
            **entry, "amount": amount, "effective_date": day_or_instant,
            "expiry_date": day_or_instant, "per_unit_cost_basis": decimal},
        "AddDecrementCreditLedgerEntryRequestParams": {**entry, "amount": amount},
        "AddExpirationChangeCreditLedgerEntryRequestParams": {
            **entry, "amount": amount, "target_expiry_date": day,
            "expiry_date": day_or_instant, "block_id": block},
        "AddVoidCreditLedgerEntryRequestParams": {**entry, "amount": amount, "block_id": block},
        "AddAmendmentCreditLedgerEntryRequestParams": {
            **entry, "amount": amount, "block_id": block},
        "CreditLedgerInvoiceSettingsRequestParams": {
            "net_terms": {"type": "integer", "minimum": 0},
            "custom_due_date": day_or_instant, "invoice_date": day_or_instant},
        "AddCreditTopUpRequestParams": {
            "currency": unit, "threshold": decimal,
            "amount": {"type": "string", "pattern": positive, "description": "> 0."},
            "per_unit_cost_basis": decimal,
            "active_from": {"type": "string", "format": "date-time",
                            "description": "Default now; at most 10 days in the past."},
            "expires_after": {"type": "integer", "minimum": 1}},
        "TopUpInvoiceSettingsRequestParams": {"net_terms": {"type": "integer", "minimum": 0}},
        "MarkInvoiceAsPaidRequestParams": {"payment_received_date": day},
        "UpdateCreditSettingsRequestParams": {
            "balance_alert_thresholds": {"type": "array", "maxItems": 20,
                                         "items": ref("BalanceAlertThresholdRequestParams")}},
        "BalanceAlertThresholdRequestParams": {
            "currency": unit, "value": {"anyOf": [{"type": "number"}, {"type": "string"}]}},
        "EditInvoiceRequestParams": {
            "metadata": metadata, "net_terms": {"type": "integer", "minimum": 0},
            "due_date": day_or_instant, "invoice_date": day_or_instant},
        "NewCreditNoteRequestParams": {
            "memo": {"type": "string", "maxLength": settings.description_length_max},
            "start_date": day, "end_date": day},
        "NewCreditNoteLineItemRequestParams": {
            "amount": money, "start_date": day, "end_date": day},
        "NewCustomerBalanceTransactionRequestParams": {
            "amount": money,
            "description": {"type": "string", "maxLength": settings.description_length_max}},
        "CreateCustomerAlertRequestParams": {
            "currency": {**unit, "description": "The ledger: an ISO 4217 code (the customer's "
                         "currency) or a custom pricing unit."},
            "type": {**enum(*TYPES), "description": "One alert of each type per ledger."},
            "thresholds": {"type": "array", "maxItems": THRESHOLDS_MAX,
                           "items": ref("ThresholdRequestParams"),
                           "description": "Required (≥ 1) for credit_balance_dropped; none "
                                          "for the other types."}},
        "UpdateAlertRequestParams": {
            "thresholds": {"type": "array", "maxItems": THRESHOLDS_MAX,
                           "items": ref("ThresholdRequestParams"),
                           "description": "The new thresholds (≥ 1 on a dropped alert, none "
                                          "on the others)."},
            "price_filters": {"type": "array", "maxItems": 0,
                              "description": "Cost alerts only: must be null or empty."},
            "threshold_overrides": {"type": "array", "maxItems": 0,
                                    "description": "Cost alerts only: must be null or empty."}},
        "ThresholdRequestParams": {"value": {
            "anyOf": [{"type": "number", "minimum": 0}, decimal],
            "description": "The dropped alert fires when the available balance is at or "
                           "below it; ≥ 0."}},
    }  # fmt: skip


def _refine(component: Schema, prop: str, schema: Schema) -> None:
    """Replace a property's schema, keeping its nullability and default."""
    properties = component["properties"]
    assert prop in properties, f"no property {prop} to refine"
    old = properties[prop]
    was_nullable = {"type": "null"} in old.get("anyOf", [])
    new = nullable(schema) if was_nullable else dict(schema)
    if "default" in old:
        new["default"] = old["default"]
    properties[prop] = new


def _renamed(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                prefix, _, name = item.rpartition("/")
                item = f"{prefix}/{names.get(name, name)}"
            if key == "title":
                continue  # class names; the component name says it
            result[key] = _renamed(item, names)
        return result
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


# --- parameters -----------------------------------------------------------------------------


def query(name: str, schema: Schema, description: str | None = None) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def ranges(
    name: str, schema: Schema, ops: Sequence[str] = ("gt", "gte", "lt", "lte")
) -> list[Schema]:
    return [query(f"{name}[{op}]", schema) for op in ops]


def pagination(settings: Settings) -> list[Schema]:
    limit = {"type": "integer", "minimum": 1, "maximum": settings.page_limit_max,
             "default": settings.page_limit_default}  # fmt: skip
    return [
        query("limit", limit, "Page size; outside the range is a 400 (no clamping)."),
        query("cursor", STRING, "`next_cursor` of the previous page, with the same filters."),
    ]


PATH_DESCRIPTIONS = {
    "customer_id": "The customer's drawdown id.",
    "external_customer_id": "The caller's alias for the customer; any text, `/` included "
                            "(percent-encoded).",
    "block_id": "A credit block id.", "top_up_id": "A top-up id.", "invoice_id": "An invoice id.",
    "credit_note_id": "A credit note id.",
    "alert_configuration_id": "An alert id (Orb's `alert_id`).",
    "plan_id": "A plan id (drawdown has no plans).",
    "subscription_id": "A subscription id (drawdown has no subscriptions).",
    **openapi_catalogue.PATH_DESCRIPTIONS,
    "event_id": "An event's id: the `idempotency_key` it was ingested with (any text, `/` "
                "included, percent-encoded).",
    "backfill_id": "A backfill id.",
}  # fmt: skip


def path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": PATH_DESCRIPTIONS[name],
            "schema": {"type": "string", "minLength": 1}}  # fmt: skip


# --- operations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One (method, path) of the API and what the document says of it."""

    method: str  # lower case, as OpenAPI writes it
    path: str  # relative to /v1, with OpenAPI's `{name}` parameters
    operation_id: str
    summary: str
    tag: str
    success: int = 200
    response: Schema | None = None  # the success body's schema; None: no body (204)
    body: str | None = None  # request body component
    body_required: bool = True
    params: tuple[str, ...] = ()  # names of query-parameter groups (`QUERY_GROUPS`)
    sdk: str | None = None  # the orb-billing call; None: a drawdown extension
    public: bool = False
    not_found: bool = True  # can answer 404 resource-not-found
    extra: Mapping[str, Any] = field(default_factory=dict)


def _page(item: Any) -> Schema:
    return obj({"data": array(shape(item)), "pagination_metadata": shape(PaginationMetadataJson)})


def _data(item: Any) -> Schema:
    return obj({"data": array(shape(item))})


CUSTOMER = "/customers/{customer_id}"
EXTERNAL = "/customers/external_customer_id/{external_customer_id}"


def twins(
    path: str, operation_id: str, sdk: str | None, summary: str, **kw: Any
) -> list[Operation]:
    """The operation by customer id and its by-external-id twin (docs/rules.md §2: alike)."""
    method, _, rest = path.partition(" ")
    by_external_sdk = None if sdk is None else f"{sdk}_by_external_id"
    return [
        Operation(method, CUSTOMER + rest, operation_id, summary, sdk=sdk, **kw),
        Operation(method, EXTERNAL + rest, f"{operation_id}-external-id",
                  f"{summary} (by external customer id)", sdk=by_external_sdk, **kw),
    ]  # fmt: skip


ALERT = "/alerts/{alert_configuration_id}"
NOT_AVAILABLE = ("Not available: drawdown has no plans or subscriptions, so this always "
                 "answers 400 feature-not-available and writes nothing.")  # fmt: skip
ALERT_OPERATIONS = (
    Operation("post", "/alerts/customer_id/{customer_id}", "create-customer-alert",
              "Create a credit-balance alert for a customer", "Alert", success=201,
              response=shape(AlertJson), body="CreateCustomerAlertRequestParams",
              sdk="alerts.create_for_customer"),
    Operation("post", "/alerts/external_customer_id/{external_customer_id}",
              "create-customer-alert-external-id",
              "Create a credit-balance alert for a customer by external customer id", "Alert",
              success=201, response=shape(AlertJson), body="CreateCustomerAlertRequestParams",
              sdk="alerts.create_for_external_customer"),
    Operation("post", "/alerts/plan_id/{plan_id}", "create-plan-alert",
              "Create a plan alert (not available)", "Alert", success=201,
              response=shape(AlertJson), sdk="alerts.create_for_plan", not_found=False,
              extra={"description": NOT_AVAILABLE}),
    Operation("post", "/alerts/subscription_id/{subscription_id}", "create-subscription-alert",
              "Create a subscription alert (not available)", "Alert", success=201,
              response=shape(AlertJson), sdk="alerts.create_for_subscription", not_found=False,
              extra={"description": NOT_AVAILABLE}),
    Operation("get", "/alerts", "list-alerts", "List a customer's alerts, newest first", "Alert",
              response=_page(AlertJson), params=("pagination", "alerts"), sdk="alerts.list"),
    Operation("get", ALERT, "fetch-alert", "Fetch an alert", "Alert", response=shape(AlertJson),
              sdk="alerts.retrieve"),
    Operation("put", ALERT, "update-alert", "Replace an alert's thresholds", "Alert",
              response=shape(AlertJson), body="UpdateAlertRequestParams", sdk="alerts.update"),
    Operation("delete", ALERT, "delete-alert", "Delete an alert", "Alert", success=204,
              sdk="alerts.delete"),
    Operation("post", ALERT + "/enable", "enable-alert",
              "Enable an alert (from the customer's next write)", "Alert",
              response=shape(AlertJson), params=("alert_subscription",), sdk="alerts.enable"),
    Operation("post", ALERT + "/disable", "disable-alert",
              "Disable an alert (from the customer's next write)", "Alert",
              response=shape(AlertJson), params=("alert_subscription",), sdk="alerts.disable"),
)  # fmt: skip

EVENT_OPERATIONS = (
    Operation("put", "/events/{event_id}", "amend-event",
              "Amend an event (its usage is charged or refunded by the difference if it was "
              "already deducted)", "Event", response=shape(EventUpdateResponseJson),
              body="EventUpdateRequest", sdk="events.update"),
    Operation("put", "/events/{event_id}/deprecate", "deprecate-event",
              "Deprecate an event (its usage is refunded if it was already deducted)", "Event",
              response=shape(EventDeprecateResponseJson), params=("event_customer",),
              sdk="events.deprecate"),
    Operation("post", "/events/search", "search-events", "Search events by id", "Event",
              response=shape(EventSearchResponseJson), body="EventSearchRequest",
              sdk="events.search", not_found=False),
    Operation("get", "/events/volume", "get-event-volume", "Event volume per hour", "Event",
              response=shape(EventVolumesJson), params=("volume", "pagination"),
              sdk="events.volume.list", not_found=False),
    Operation("post", "/events/backfills", "create-backfill", "Create a backfill", "Event",
              success=201, response=shape(BackfillJson), body="BackfillCreateRequest",
              sdk="events.backfills.create"),
    Operation("get", "/events/backfills", "list-backfills", "List backfills", "Event",
              response=_page(BackfillJson), params=("pagination", "backfills"),
              sdk="events.backfills.list", not_found=False),
    Operation("get", "/events/backfills/{backfill_id}", "fetch-backfill", "Fetch a backfill",
              "Event", response=shape(BackfillJson), sdk="events.backfills.fetch"),
    Operation("post", "/events/backfills/{backfill_id}/close", "close-backfill",
              "Close a backfill: its events replace or join the timeframe's, and the ledger "
              "moves by the difference", "Event", response=shape(BackfillJson),
              sdk="events.backfills.close"),
    Operation("post", "/events/backfills/{backfill_id}/revert", "revert-backfill",
              "Revert a backfill, undoing its effect on the ledger", "Event",
              response=shape(BackfillJson), sdk="events.backfills.revert"),
)  # fmt: skip

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/ping", "ping", "Check the API key", "Availability",
              response=shape(PingResponseJson), sdk="top_level.ping", not_found=False),
    Operation("post", "/customers", "create-customer", "Create a customer", "Customer",
              success=201, response=shape(CustomerJson), body="NewCustomer",
              sdk="customers.create", not_found=False),
    Operation("get", "/customers", "list-customers", "List customers", "Customer",
              response=_page(CustomerJson), params=("pagination", "created_at"),
              sdk="customers.list", not_found=False),
    Operation("get", CUSTOMER, "fetch-customer", "Fetch a customer", "Customer",
              response=shape(CustomerJson), sdk="customers.fetch"),
    Operation("get", EXTERNAL, "fetch-customer-external-id",
              "Fetch a customer by external customer id", "Customer",
              response=shape(CustomerJson), sdk="customers.fetch_by_external_id"),
    Operation("put", CUSTOMER, "update-customer", "Update a customer", "Customer",
              response=shape(CustomerJson), body="EditCustomer", sdk="customers.update"),
    Operation("put", EXTERNAL, "update-customer-external-id",
              "Update a customer by external customer id", "Customer",
              response=shape(CustomerJson), body="EditCustomer",
              sdk="customers.update_by_external_id"),
    Operation("delete", CUSTOMER, "delete-customer", "Delete a customer", "Customer",
              success=204, sdk="customers.delete"),
    *twins("get /credits", "fetch-customer-credits", "customers.credits.list",
           "Fetch a customer's credit blocks (credit balance)", tag="Credit",
           response=_page(CreditBlockJson), params=("pagination", "credits")),
    *twins("get /credits/ledger", "fetch-customer-credits-ledger",
           "customers.credits.ledger.list", "List a customer's ledger entries", tag="Credit",
           response=_page(LedgerEntryJson), params=("pagination", "ledger")),
    *twins("post /credits/ledger_entry", "create-ledger-entry",
           "customers.credits.ledger.create_entry", "Create a ledger entry", tag="Credit",
           success=201, response=shape(LedgerEntryJson), body="AddCreditLedgerEntryRequestParams"),
    *twins("post /credits/top_ups", "create-top-up", "customers.credits.top_ups.create",
           "Create a top-up", tag="Credit", success=201, response=shape(TopUpJson),
           body="AddCreditTopUpRequestParams"),
    *twins("get /credits/top_ups", "list-top-ups", "customers.credits.top_ups.list",
           "List active top-ups", tag="Credit", response=_page(TopUpJson), params=("pagination",)),
    *twins("delete /credits/top_ups/{top_up_id}", "deactivate-top-up",
           "customers.credits.top_ups.delete", "Deactivate a top-up", tag="Credit", success=204),
    *twins("get /credits/summary", "fetch-customer-credits-summary", None,
           "Summarize a customer's balances: available, scheduled, awaiting payment",
           tag="drawdown extensions", response=_data(CreditBalanceSummaryJson),
           params=("summary",)),
    *twins("post /credits/ledger_entry/preview", "preview-ledger-entry", None,
           "Preview a decrement: the entries it would write, writing nothing",
           tag="drawdown extensions", response=_data(LedgerEntryJson),
           body="AddDecrementCreditLedgerEntryRequestParams"),
    *twins("get /credits/settings", "fetch-customer-credit-settings", None,
           "Fetch a customer's credit settings", tag="drawdown extensions",
           response=shape(CreditSettingsJson)),
    *twins("put /credits/settings", "update-customer-credit-settings", None,
           "Update a customer's credit settings (only the fields sent change)",
           tag="drawdown extensions", response=shape(CreditSettingsJson),
           body="UpdateCreditSettingsRequestParams"),
    Operation("get", "/credit_blocks/{block_id}", "fetch-credit-block", "Fetch a credit block",
              "Credit", response=shape(CreditBlockJson), sdk="credit_blocks.retrieve"),
    Operation("put", "/credit_blocks/{block_id}", "update-credit-block",
              "Update a credit block's metadata", "Credit", response=shape(CreditBlockJson),
              body="UpdateCreditBlockRequestParams", sdk="credit_blocks.update"),
    Operation("delete", "/credit_blocks/{block_id}", "delete-credit-block",
              "Delete a credit block and replay the ledger without it", "Credit", success=204,
              sdk="credit_blocks.delete"),
    Operation("get", "/credit_blocks/{block_id}/invoices", "list-credit-block-invoices",
              "List the invoices that charged for a credit block", "Credit",
              response=shape(CreditBlockInvoicesJson), sdk="credit_blocks.list_invoices"),
    Operation("get", "/invoices", "list-invoices", "List invoices", "Invoice",
              response=_page(InvoiceJson), params=("pagination", "invoices"),
              sdk="invoices.list"),
    Operation("get", "/invoices/{invoice_id}", "fetch-invoice", "Fetch an invoice", "Invoice",
              response=shape(InvoiceJson), params=("fetch_invoice",), sdk="invoices.fetch"),
    Operation("put", "/invoices/{invoice_id}", "update-invoice",
              "Update an invoice: metadata; dates, terms and auto-collection of drafts",
              "Invoice", response=shape(InvoiceJson), body="EditInvoiceRequestParams",
              sdk="invoices.update"),
    Operation("post", "/invoices/{invoice_id}/mark_paid", "mark-invoice-as-paid",
              "Mark an invoice as paid", "Invoice", response=shape(InvoiceJson),
              body="MarkInvoiceAsPaidRequestParams", sdk="invoices.mark_paid"),
    Operation("post", "/invoices/{invoice_id}/void", "void-invoice", "Void an invoice",
              "Invoice", response=shape(InvoiceJson), sdk="invoices.void"),
    Operation("post", "/invoices/{invoice_id}/issue", "issue-invoice", "Issue a draft invoice",
              "Invoice", response=shape(InvoiceJson), body="IssueInvoiceRequestParams",
              body_required=False, sdk="invoices.issue"),
    Operation("post", "/credit_notes", "create-credit-note",
              "Create a credit note: credit money on an invoice, void the credits it bought",
              "Credit note", success=201, response=shape(CreditNoteJson),
              body="NewCreditNoteRequestParams", sdk="credit_notes.create"),
    Operation("get", "/credit_notes", "list-credit-notes", "List credit notes", "Credit note",
              response=_page(CreditNoteJson), params=("pagination", "created_at", "credit_notes"),
              sdk="credit_notes.list", not_found=False),
    Operation("get", "/credit_notes/{credit_note_id}", "fetch-credit-note",
              "Fetch a credit note", "Credit note", response=shape(CreditNoteJson),
              sdk="credit_notes.fetch"),
    Operation("post", CUSTOMER + "/balance_transactions", "create-customer-balance-transaction",
              "Create a customer balance transaction (cash, not credits)", "Customer",
              success=201, response=shape(CustomerBalanceTransactionJson),
              body="NewCustomerBalanceTransactionRequestParams",
              sdk="customers.balance_transactions.create"),
    Operation("get", CUSTOMER + "/balance_transactions", "list-balance-transactions",
              "List a customer's balance transactions", "Customer",
              response=_page(CustomerBalanceTransactionJson),
              params=("pagination", "operation_time"),
              sdk="customers.balance_transactions.list"),
    Operation("get", OPENAPI_PATH, "fetch-openapi-document", "This OpenAPI document",
              "Reference", response={"type": "object"}, public=True, not_found=False),
    Operation("get", DOCS_PATH, "fetch-api-docs", "Browsable API reference (HTML)",
              "Reference", public=True, not_found=False,
              extra={"content_type": "text/html"}),
    Operation("post", "/ingest", "ingest", "Ingest events", "Event",
              response=shape(EventIngestResponseJson), body="EventIngestRequest",
              params=("ingest",), sdk="events.ingest"),  # 404: `backfill_id` names none
    *ALERT_OPERATIONS,
    *(Operation(**spec) for spec in openapi_catalogue.OPERATIONS),
    *EVENT_OPERATIONS,
)  # fmt: skip


def query_groups(settings: Settings) -> dict[str, list[Schema]]:
    instant_or_date = {"type": "string", "description": "An ISO 8601 date or date-time."}
    money = {"type": "string", "description": "A decimal string; filters on `total`."}
    return {
        "pagination": pagination(settings),
        "created_at": ranges("created_at", INSTANT),
        "credits": [
            query("currency", STRING, "The ledger (pricing unit); default `credits`."),
            query("include_all_blocks", BOOLEAN,
                  "Also expired, depleted and voided blocks."),
            *ranges("effective_date", INSTANT),
            query("as_of", INSTANT, "drawdown extension: the blocks as they were then."),
        ],
        "ledger": [
            query("currency", STRING, "Restrict to one ledger (default: all)."),
            query("entry_type", enum(*ENTRY_TYPES)),
            query("entry_status", enum("committed", "pending")),
            query("minimum_amount", DECIMAL_STRING, "Entries whose amount is at least this."),
            *ranges("created_at", INSTANT),
        ],
        "summary": [
            query("currency", STRING, "One ledger (default: every ledger of the customer)."),
            query("as_of", INSTANT, "The balances as they were then."),
        ],
        "invoices": [
            query("customer_id", STRING), query("external_customer_id", STRING),
            {**query("status[]", array(enum("draft", "issued", "paid", "synced", "void")),
                     "Default: issued, paid and synced."), "style": "form", "explode": True},
            *ranges("invoice_date", instant_or_date),
            query("due_date", instant_or_date), *ranges("due_date", instant_or_date),
            query("amount", money), *ranges("amount", money),
            query("subscription_id", STRING, "drawdown has no subscriptions: matches nothing."),
            *(query(name, STRING, "Accepted and ignored.") for name in
              ("date_type", "due_date_window", "is_recurring", "include_zero_quantity_line_items")),
        ],
        "fetch_invoice": [query("include_zero_quantity_line_items", BOOLEAN,
                                "Accepted and ignored.")],
        "credit_notes": [query("customer_id", STRING), query("external_customer_id", STRING)],
        "operation_time": ranges("operation_time", INSTANT),
        "alerts": [
            query("customer_id", STRING), query("external_customer_id", STRING),
            query("subscription_id", STRING, "drawdown has no subscriptions: matches nothing."),
            *ranges("created_at", INSTANT),
        ],
        "alert_subscription": [query("subscription_id", STRING,
                                     "Selects a plan alert's copy for one subscription: "
                                     "drawdown has none, so giving it is a 400 "
                                     "feature-not-available.")],
        **openapi_catalogue.query_groups(),
        **_event_query_groups(),
    }  # fmt: skip


def _event_query_groups() -> dict[str, list[Schema]]:
    hour = "An ISO 8601 date-time; the hour it falls in is included."
    return {
        "ingest": [
            query("backfill_id", STRING, "The events belong to this pending backfill: not "
                  "usage until it closes; its timeframe replaces the grace period."),
            query("debug", BOOLEAN, "Add `debug`: the ids ingested and the duplicates."),
        ],
        "event_customer": [
            query("customer_id", STRING, "drawdown extension: whose event, when several "
                  "customers have an event with this id."),
            query("external_customer_id", STRING, "drawdown extension: as customer_id."),
        ],
        "volume": [
            {**query("timeframe_start", INSTANT, hour), "required": True},
            query("timeframe_end", INSTANT, f"Exclusive; default now. {hour} At most "
                  f"{VOLUME_DAYS_MAX} days after timeframe_start."),
        ],
        "backfills": [
            query("customer_id", STRING),
            query("status", enum("pending", "reflected", "pending_revert", "reverted")),
        ],
    }  # fmt: skip


# --- errors ---------------------------------------------------------------------------------


def _error_example(kind: str, detail: str, validation: bool = False) -> Schema:
    status, suffix, title = ERROR_TYPES[kind]
    value: Schema = {"type": TYPE_PREFIX + suffix, "status": status, "title": title,
                     "detail": detail}  # fmt: skip
    if validation:
        value["validation_errors"] = [{"field": "amount", "message": "must be greater than 0"}]
    return {"value": value}


def error_responses(settings: Settings) -> dict[str, Schema]:
    def response(
        description: str,
        examples: Mapping[str, Schema],
        headers: Mapping[str, Schema] | None = None,
    ) -> Schema:
        content = {"application/json": {"schema": shape(ErrorJson), "examples": dict(examples)}}
        result: Schema = {"description": description, "content": content}
        if headers:
            result["headers"] = dict(headers)
        return result  # fmt: skip

    limit = settings.request_body_bytes_max
    return {
        "BadRequest": response(
            "Request validation error (`validation_errors` names each field), or a broken "
            "business rule: constraint violation, duplicate resource creation, feature not "
            "available (docs/rules.md §1.8).",
            {"request_validation": _error_example(
                "validation", "One or more fields in the request body are invalid.", True),
             "constraint_violation": _error_example(
                "constraint", "Cannot void more than the block's remaining ceiling."),
             "duplicate": _error_example(
                "duplicate", "A customer with external_customer_id 'acme' already exists.")}),
        "Unauthorized": response(
            "The API key is missing or not valid (checked before routing, docs/rules.md §1.4).",
            {"authentication": _error_example(
                "authentication",
                "The API key in the Authorization header is missing or not valid.")}),
        "NotFound": response(
            "A resource named in the path (or a filter) does not exist or was deleted.",
            {"resource_not_found": _error_example(
                "not_found", "Could not find a resource of type Customer with identifier: x")}),
        "Conflict": response(
            "Idempotency conflict (docs/rules.md §1.9): the key's first request is still in "
            "progress, or the key was used with another request (then `x-should-retry: false`).",
            {"in_progress": _error_example(
                "conflict", "A request with this Idempotency-Key is still in progress.")},
            {"x-should-retry": {"schema": enum("false"),
                                "description": "Present when a retry cannot succeed."}}),
        "RequestTooLarge": response(
            f"The request body is over {limit} bytes (`DRAWDOWN_REQUEST_BODY_BYTES_MAX`).",
            {"too_large": _error_example(
                "request_too_large", f"Request bodies are limited to {limit} bytes.")}),
        "UnsupportedMediaType": response(
            "The body has a `Content-Encoding` other than `identity` (docs/rules.md §1.2).",
            {"encoded": _error_example(
                "unsupported_media_type",
                "Content-Encoding 'gzip' is not supported; send the body uncompressed "
                "(identity).")}),
        "TooManyRequests": response(
            "Rate limited (only when `DRAWDOWN_RATE_LIMIT_PER_SECOND` is set).",
            {"rate_limited": _error_example("rate_limited", "Too many requests; retry later.")},
            {"Retry-After": {"schema": INTEGER, "description": "Seconds to wait."}}),
        "InternalServerError": response(
            "Unexpected failure; nothing was written. `Transient-Error: true` when a retry "
            "can succeed.",
            {"internal": _error_example("internal", "An unexpected error occurred.")},
            {"Transient-Error": {"schema": enum("true")}}),
    }  # fmt: skip


# --- the document ---------------------------------------------------------------------------


def _operation(op: Operation, settings: Settings, groups: Mapping[str, list[Schema]]) -> Schema:
    params = [path_param(name) for name in _path_names(op.path)]
    for group in op.params:
        params.extend(groups[group])
    if op.method == "post":
        length = settings.idempotency_key_length_max
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Makes a retry safe (docs/rules.md §1.9): the first response is "
                "replayed, with `Idempotent-Replayed: true`.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": length,
                    "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$",
                },
            }
        )
    responses: dict[str, Schema] = {}
    description = "No content." if op.response is None and op.success == 204 else "Success."
    success: Schema = {"description": description}
    media = op.extra.get("content_type", "application/json")
    if op.response is not None:
        success["content"] = {media: {"schema": op.response}}
    elif media != "application/json":
        success["content"] = {media: {"schema": {"type": "string"}}}
    responses[str(op.success)] = success
    responses["400"] = {"$ref": "#/components/responses/BadRequest"}
    if not op.public:
        responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    if op.not_found:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    if op.method in ("post", "put", "delete"):
        responses["409"] = {"$ref": "#/components/responses/Conflict"}
    if op.body is not None:
        responses["413"] = {"$ref": "#/components/responses/RequestTooLarge"}
        responses["415"] = {"$ref": "#/components/responses/UnsupportedMediaType"}
    if not op.public:
        responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}
    responses["500"] = {"$ref": "#/components/responses/InternalServerError"}
    result: Schema = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
    }
    if op.body is not None:
        result["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": ref(op.body)}},
        }
    if op.public:
        result["security"] = []
    if op.sdk is not None:
        result["x-sdk-method"] = op.sdk
    else:
        result["description"] = "A drawdown extension (not in Orb's API)."
    if "description" in op.extra:
        result["description"] = op.extra["description"]
    return result


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def build_document(settings: Settings, operations: Iterable[Operation] = OPERATIONS) -> Schema:
    """The OpenAPI 3.1 document of `operations` under the limits `settings` set."""
    groups = query_groups(settings)
    paths: dict[str, dict[str, Schema]] = {}
    for op in operations:
        methods = paths.setdefault(op.path, {})
        assert op.method not in methods, f"two operations for {op.method} {op.path}"
        methods[op.method] = _operation(op, settings, groups)
    version = _version()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "drawdown credits API",
            "version": version,
            "description": (
                "A self-hosted prepaid-credits ledger, wire-compatible with Orb's customer "
                "credits API: the official `orb-billing` SDK works with "
                "`base_url=http://<host>/v1`. Amounts are exact decimals; every POST honours "
                "`Idempotency-Key`; lists use cursor pagination. Errors are Orb's error "
                "objects. Any request over the body limit is a 413, whatever the route. "
                "Every rule it follows is written out in docs/rules.md in its repository, whose "
                "numbers (§1.9, R-DED-2, …) these descriptions cite."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API key from "
                                                              "`drawdown keys create`."}},
            "schemas": {**component_schemas(RESPONSE_SHAPES), **_request_schemas(settings),
                        **_ingest_request_schema(settings),
                        **openapi_catalogue.request_schemas(), **_event_request_schemas()},
            "responses": error_responses(settings),
        },
    }  # fmt: skip


def _ingest_request_schema(settings: Settings) -> dict[str, Schema]:
    """`POST /ingest` reads its body by hand (services/usage/ingest.py), not via a model."""
    event: Schema = {
        "type": "object",
        "required": ["idempotency_key", "event_name", "timestamp", "properties"],
        "properties": {
            "idempotency_key": {"type": "string", "minLength": 1},
            "event_name": {"type": "string", "minLength": 1},
            "timestamp": INSTANT,
            "properties": {"type": "object"},
            "customer_id": nullable(STRING),
            "external_customer_id": nullable(STRING),
        },
        "description": "Exactly one of `customer_id` and `external_customer_id`.",
    }
    return {
        "EventIngestRequest": {
            "type": "object", "required": ["events"],
            "properties": {"events": {"type": "array", "items": event, "minItems": 1,
                                      "maxItems": settings.usage_events_per_request_max}},
        },
    }  # fmt: skip


def _event_request_schemas() -> dict[str, Schema]:
    """Request bodies of Orb's events API beyond ingestion (routes/events.py,
    routes/backfills.py), which read them by hand (services/usage/events.py, backfills.py)."""
    properties = {"type": "object", "additionalProperties": {
        "anyOf": [STRING, {"type": "number"}, BOOLEAN]},
        "description": "Strings, numbers and booleans; no nesting, no null."}  # fmt: skip
    instant_or_null = nullable(INSTANT)
    return {
        "EventUpdateRequest": {
            "type": "object", "required": ["event_name", "properties", "timestamp"],
            "properties": {
                "event_name": {"type": "string", "minLength": 1},
                "properties": properties,
                "timestamp": {**INSTANT, "description": "Must equal the event's timestamp."},
                "customer_id": nullable(STRING), "external_customer_id": nullable(STRING)},
            "description": "Exactly one of `customer_id` and `external_customer_id`: the "
                           "event's customer. The event must be inside the grace period.",
        },
        "EventSearchRequest": {
            "type": "object", "required": ["event_ids"],
            "properties": {
                "event_ids": {"type": "array", "minItems": 1, "maxItems": EVENT_IDS_MAX,
                              "items": {"type": "string", "minLength": 1}},
                "timeframe_start": {**instant_or_null,
                                    "description": "Inclusive; default a week before the end."},
                "timeframe_end": {**instant_or_null, "description": "Exclusive; default now."}},
        },
        "BackfillCreateRequest": {
            "type": "object", "required": ["timeframe_start", "timeframe_end"],
            "properties": {
                "timeframe_start": INSTANT,
                "timeframe_end": {**INSTANT, "description": "Exclusive; at most 31 days after "
                                  "the start, and no later than now − the grace period."},
                "close_time": {**instant_or_null, "description": "When it closes by itself; "
                               "default a day after creation."},
                "customer_id": nullable(STRING), "external_customer_id": nullable(STRING),
                "replace_existing_events": {**BOOLEAN, "default": True},
                "deprecation_filter": {"type": "null",
                                       "description": "Not supported (400 otherwise)."}},
        },
    }  # fmt: skip


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("drawdown")
    except Exception:  # not installed as a distribution (a source checkout)
        return "0"


@functools.lru_cache(maxsize=4)
def document_bytes(settings: Settings) -> bytes:
    """The document as served, built once per settings (they are frozen, hence hashable)."""
    return json.dumps(build_document(settings), ensure_ascii=False).encode()


@functools.lru_cache(maxsize=1)
def docs_page() -> bytes:
    """The browsable reference: one self-contained page that renders the document."""
    return resources.files("drawdown.api").joinpath("reference.html").read_bytes()


@functools.lru_cache(maxsize=1)
def docs_page_policy() -> str:
    """A Content-Security-Policy that lets the page run its own script and nothing else."""
    page = docs_page().decode()
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
            "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")  # fmt: skip


def openapi_path(route_path: str, prefix: str = "/v1") -> str:
    """A Starlette route path (`/v1/x/{id:segment}`) as the document writes it (`/x/{id}`)."""
    assert route_path.startswith(prefix), route_path
    parts = []
    for part in route_path[len(prefix) :].split("/"):
        if part.startswith("{") and ":" in part:
            part = part.split(":", 1)[0] + "}"
        parts.append(part)
    return "/".join(parts)
