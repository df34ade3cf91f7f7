"""Credit-note endpoints (Orb `credit_notes.create|list|fetch`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination
from drawdown.api.deps import body_of, read, respond, service_context, validated
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import customer_filter, range_filters
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.credit_notes import (
    CreditNoteCreateRequest,
    credit_note_json,
    credit_note_request,
)
from drawdown.ledger.dates import format_instant
from drawdown.services.billing import credit_notes
from drawdown.services.billing.credit_notes import CreditNoteView

router = APIRouter()

CREATED: JsonReplier[CreditNoteView] = JsonReplier(201, credit_note_json)


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
    customer = customer_filter(request)
    created_at = range_filters(request, "created_at")
    filters = {"c": customer and customer.describe(), "t": created_at}
    pager = pagination.Pager.of(request, "credit_notes", filters)
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    query = credit_notes.CreditNoteQuery(customer, created_at, after, pager.fetch)
    views = await read(request, credit_notes.list_credit_notes, query)
    return pager.respond(views, _note_key, lambda page: [credit_note_json(v) for v in page])


def _note_key(view: CreditNoteView) -> list[Any]:
    return [format_instant(view.note.created_at, fractions=True), view.note.id]


@router.get("/v1/credit_notes/{credit_note_id}")
async def fetch_credit_note(request: Request, credit_note_id: str) -> Response:
    """Fetch a credit note."""
    view = await read(request, credit_notes.get_credit_note, credit_note_id)
    return ExactJSONResponse(credit_note_json(view))
