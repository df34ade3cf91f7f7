"""E0: an authenticated liveness check that touches no customer data."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


@router.get("/ping")
async def ping() -> dict[str, str]:
    """Check the API key and that the service answers."""
    return {"response": "pong"}
