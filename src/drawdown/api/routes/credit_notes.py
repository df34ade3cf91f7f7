"""Credit-note endpoints (Orb `credit_notes.create|list|fetch`) and the customer's cash
balance (`customers.balance_transactions.create|list`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination
from drawdown.api.deps import body_of, read, respond, service_context, validated
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import range_filters
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.credit_notes import (
    BalanceTransactionCreateRequest,
    CreditNoteCreateRequest,
    balance_transaction_fields,
    credit_note_json,
    credit_note_request,
)
from drawdown.api.schemas.invoices import balance_transaction_json
from drawdown.ledger.dates import format_instant
from drawdown.services.billing import cash_balance, credit_notes
from drawdown.services.billing.credit_notes import CreditNoteView
from drawdown.services.write_path import CustomerRef
from drawdown.store.records import BalanceTransaction

router = APIRouter()

CREATED: JsonReplier[CreditNoteView] = JsonReplier(201, credit_note_json)
MOVED: JsonReplier[BalanceTransaction] = JsonReplier(201, balance_transaction_json)
BALANCE = "/v1/customers/{customer_id}/balance_transactions"


@router.post("/v1/credit_notes", status_code=201)
async def create_credit_note(request: Request) -> Response:
    """Create a credit note."""
    body = validated(CreditNoteCreateRequest, body_of(request))
    note = credit_note_request(body, service_context(request).settings)
    owner = await read(request, credit_notes.owner_of, note)
    return await respond(request, credit_notes.create_credit_note(owner, note), CREATED)


@router.get("/v1/credit_notes")
async def list_credit_notes(request: Request) -> Response:
    """List credit notes, newest first."""
    params = request.query_params
    customer = _customer_filter(params.get("customer_id"), params.get("external_customer_id"))
    created_at = range_filters(request, "created_at")
    filters = {"c": customer and customer.describe(), "t": created_at}
    pager = pagination.Pager.of(request, "credit_notes", filters)
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    query = credit_notes.CreditNoteQuery(customer, created_at, after, pager.fetch)
    views = await read(request, credit_notes.list_credit_notes, query)
    return pager.respond(views, _note_key, lambda page: [credit_note_json(v) for v in page])


def _note_key(view: CreditNoteView) -> list[Any]:
    return [format_instant(view.note.created_at, fractions=True), view.note.id]


def _customer_filter(customer_id: str | None, external_id: str | None) -> CustomerRef | None:
    if customer_id is not None:
        return CustomerRef(id=customer_id)
    if external_id is not None:
        return CustomerRef(external_id=external_id)
    return None


@router.get("/v1/credit_notes/{credit_note_id}")
async def fetch_credit_note(request: Request, credit_note_id: str) -> Response:
    """Fetch a credit note."""
    view = await read(request, credit_notes.get_credit_note, credit_note_id)
    return ExactJSONResponse(credit_note_json(view))


@router.post(BALANCE, status_code=201)
async def create_balance_transaction(request: Request, customer_id: str) -> Response:
    """Create a customer balance transaction."""
    body = validated(BalanceTransactionCreateRequest, body_of(request))
    fields = balance_transaction_fields(body, service_context(request).settings)
    work = cash_balance.create_transaction(CustomerRef(id=customer_id), fields)
    return await respond(request, work, MOVED)


@router.get(BALANCE)
async def list_balance_transactions(request: Request, customer_id: str) -> Response:
    """List a customer's balance transactions, newest first."""
    operation_time = range_filters(request, "operation_time")
    filters = {"c": customer_id, "t": operation_time}
    pager = pagination.Pager.of(request, "balance_transactions", filters)
    after = pager.after(pagination.cursor_int)
    query = cash_balance.TransactionQuery(
        operation_time, None if after is None else after[0], pager.fetch
    )
    moves = await read(request, cash_balance.list_transactions, CustomerRef(id=customer_id), query)
    return pager.respond(
        moves, lambda m: [m.seq], lambda page: [balance_transaction_json(m) for m in page]
    )
