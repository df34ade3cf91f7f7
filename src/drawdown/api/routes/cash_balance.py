"""The customer's cash balance (Orb `customers.balance_transactions.create|list`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination
from drawdown.api.deps import body_of, read, respond, service_context, validated
from drawdown.api.queries import range_filters
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.credit_notes import (
    BalanceTransactionCreateRequest,
    balance_transaction_fields,
)
from drawdown.api.schemas.invoices import balance_transaction_json
from drawdown.records import BalanceTransaction
from drawdown.services.billing import cash_balance
from drawdown.services.write_path import CustomerRef

router = APIRouter()

MOVED: JsonReplier[BalanceTransaction] = JsonReplier(201, balance_transaction_json)
BALANCE = "/v1/customers/{customer_id}/balance_transactions"


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
