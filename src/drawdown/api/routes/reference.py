"""The API reference: the OpenAPI document and a page that renders it (no API key needed).

Public like Orb's reference: the document says what the API accepts, not what a ledger
holds. `ApiGate` lets these two paths through without a key (docs/decisions.md).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from drawdown.api import openapi
from drawdown.api.deps import service_context

router = APIRouter()


@router.get("/v1" + openapi.OPENAPI_PATH)
async def openapi_document(request: Request) -> Response:
    """The OpenAPI 3.1 document of every /v1 route."""
    body = openapi.document_bytes(service_context(request).settings)
    return Response(body, media_type="application/json")


@router.get("/v1" + openapi.DOCS_PATH)
async def api_docs(request: Request) -> Response:
    """The browsable API reference: a self-contained page that renders the document."""
    return Response(openapi.docs_page(), media_type="text/html")
