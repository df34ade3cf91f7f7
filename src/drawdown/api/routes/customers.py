"""Customer endpoints E1–E7 (docs/rules.md §2.1)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination
from drawdown.api.deps import body_of, read, respond, validated
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.paths import BY_EXTERNAL_ID
from drawdown.api.queries import range_filters
from drawdown.api.replies import NO_CONTENT, JsonReplier
from drawdown.api.schemas.customers import (
    CustomerCreate,
    CustomerUpdate,
    customer_json,
    service_fields,
)
from drawdown.ledger.dates import resolve_bounds
from drawdown.records import Customer
from drawdown.services import customers as service
from drawdown.services.write_path import CustomerRef

router = APIRouter()

CREATED: JsonReplier[Customer] = JsonReplier(201, customer_json)
UPDATED: JsonReplier[Customer] = JsonReplier(200, customer_json)


@router.post("/v1/customers", status_code=201)
async def create_customer(request: Request) -> Response:
    """Create a customer."""
    body = validated(CustomerCreate, body_of(request))
    return await respond(request, service.create_customer(service_fields(body)), CREATED)


@router.get("/v1/customers")
async def list_customers(request: Request) -> Response:
    """List customers, newest first."""
    raw_filters = range_filters(request, "created_at")
    filters = resolve_bounds(raw_filters, "UTC", field="created_at")
    pager = pagination.Pager.of(request, "customers", dict(raw_filters))
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    rows = await read(request, service.list_customers, filters, after, pager.fetch)
    return pager.respond(
        rows, pagination.created_key, lambda page: [customer_json(r) for r in page]
    )


@router.get("/v1" + BY_EXTERNAL_ID)
async def fetch_customer_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Fetch a customer by external id."""
    ref = CustomerRef(external_id=external_customer_id)
    customer = await read(request, service.get_customer, ref)
    return ExactJSONResponse(customer_json(customer))


@router.put("/v1" + BY_EXTERNAL_ID)
async def update_customer_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Update a customer by external id."""
    return await _update(request, CustomerRef(external_id=external_customer_id))


@router.get("/v1/customers/{customer_id}")
async def fetch_customer(request: Request, customer_id: str) -> Response:
    """Fetch a customer."""
    ref = CustomerRef(id=customer_id)
    customer = await read(request, service.get_customer, ref)
    return ExactJSONResponse(customer_json(customer))


@router.put("/v1/customers/{customer_id}")
async def update_customer(request: Request, customer_id: str) -> Response:
    """Update a customer."""
    return await _update(request, CustomerRef(id=customer_id))


async def _update(request: Request, ref: CustomerRef) -> Response:
    fields = service_fields(validated(CustomerUpdate, body_of(request)))
    for required in ("name", "email"):
        if required in fields and fields[required] is None:
            raise invalid(required, "may not be null")
    return await respond(request, service.update_customer(ref, fields), UPDATED)


@router.delete("/v1/customers/{customer_id}", status_code=204)
async def delete_customer(request: Request, customer_id: str) -> Response:
    """Delete a customer."""
    return await respond(request, service.delete_customer(CustomerRef(id=customer_id)),
                         NO_CONTENT)  # fmt: skip
