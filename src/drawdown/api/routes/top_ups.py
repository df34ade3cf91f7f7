"""Top-up endpoints E14–E19 (docs/rules.md §2.4)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination, paths
from drawdown.api.deps import body_of, read, respond, validated
from drawdown.api.replies import NO_CONTENT, JsonReplier
from drawdown.api.schemas.invoices import TopUpRequest, top_up_json
from drawdown.records import TopUp
from drawdown.services.billing import top_ups
from drawdown.services.write_path import CustomerRef

router = APIRouter()

BY_ID = "/v1/customers/{customer_id}/credits/top_ups"
BY_EXTERNAL_ID = "/v1" + paths.BY_EXTERNAL_ID + "/credits/top_ups"
CREATED: JsonReplier[TopUp] = JsonReplier(201, top_up_json)


@router.post(BY_ID, status_code=201)
async def create_top_up(request: Request, customer_id: str) -> Response:
    """Create a top-up."""
    return await _create(request, CustomerRef(id=customer_id))


@router.post(BY_EXTERNAL_ID, status_code=201)
async def create_top_up_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Create a top-up by external customer id."""
    return await _create(request, CustomerRef(external_id=external_customer_id))


async def _create(request: Request, ref: CustomerRef) -> Response:
    top_up = new_top_up(validated(TopUpRequest, body_of(request)))
    return await respond(request, top_ups.create_top_up(ref, top_up), CREATED)


def new_top_up(body: TopUpRequest) -> top_ups.NewTopUp:
    settings = body.invoice_settings
    return top_ups.NewTopUp(
        currency=body.currency, threshold=body.threshold, amount=body.amount,
        per_unit_cost_basis=body.per_unit_cost_basis,
        invoice_settings=top_ups.TopUpInvoicing(
            auto_collection=settings.auto_collection, net_terms=settings.net_terms,
            memo=settings.memo, require_successful_payment=settings.require_successful_payment,
        ),
        active_from=body.active_from, expires_after=body.expires_after,
        expires_after_unit=body.expires_after_unit,
    )  # fmt: skip


@router.get(BY_ID)
async def list_top_ups(request: Request, customer_id: str) -> Response:
    """List active top-ups."""
    return await _list(request, CustomerRef(id=customer_id))


@router.get(BY_EXTERNAL_ID)
async def list_top_ups_by_external_id(request: Request, external_customer_id: str) -> Response:
    """List active top-ups by external customer id."""
    return await _list(request, CustomerRef(external_id=external_customer_id))


async def _list(request: Request, ref: CustomerRef) -> Response:
    pager = pagination.Pager.of(request, "top_ups", {"c": ref.describe()})
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    rows = await read(request, top_ups.list_top_ups, ref, after, pager.fetch)
    return pager.respond(rows, pagination.created_key, lambda page: [top_up_json(r) for r in page])


@router.delete(BY_ID + "/{top_up_id}", status_code=204)
async def delete_top_up(request: Request, customer_id: str, top_up_id: str) -> Response:
    """Delete (deactivate) a top-up."""
    work = top_ups.delete_top_up(CustomerRef(id=customer_id), top_up_id)
    return await respond(request, work, NO_CONTENT)


@router.delete(BY_EXTERNAL_ID + "/{top_up_id}", status_code=204)
async def delete_top_up_by_external_id(
    request: Request, external_customer_id: str, top_up_id: str
) -> Response:
    """Delete (deactivate) a top-up by external customer id."""
    work = top_ups.delete_top_up(CustomerRef(external_id=external_customer_id), top_up_id)
    return await respond(request, work, NO_CONTENT)
