"""E0: an authenticated liveness check that touches no customer data."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from drawdown.api.schemas.ping import PONG

router = APIRouter()


@router.get("/v1/ping")
async def ping(request: Request) -> Response:
    """Check the API key and that the service answers."""
    return Response(PONG, media_type="application/json")
