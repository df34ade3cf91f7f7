"""The API application: /v1 routes behind the gate, with Orb-shaped errors.

Built by the composition root (`drawdown/app.py`) from a ready `ServiceContext`; it knows
nothing of the console or of how the database was opened.

Routes are declared with FastAPI's `APIRouter` and served by Starlette's `Router` (FastAPI's
own foundation), flat and without FastAPI's application middleware: drawdown's endpoints
take the `Request` and their path parameters and nothing else, so FastAPI's per-request
dependency solving, nested router matching and five middleware layers did no work for them
while costing more than the ledger write itself (measured: docs/decisions.md). The gate
answers every error itself (`api/gate.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp

from drawdown.api.gate import ApiGate
from drawdown.api.routes import (
    alerts,
    balances,
    cash_balance,
    catalogue,
    credit_notes,
    customers,
    events,
    invoices,
    ledger,
    ping,
    prices,
    reference,
    top_ups,
)
from drawdown.services.context import ServiceContext

API_ROUTERS = (
    ping.router, customers.router, balances.router, ledger.router, top_ups.router,
    invoices.router, events.router, reference.router, credit_notes.router,
    cash_balance.router, alerts.router, catalogue.router, prices.router,
)  # fmt: skip


# The path template of each endpoint the router calls (it leaves the endpoint in the
# scope): metrics count requests per template, never per concrete path.
ROUTE_TEMPLATES: dict[object, str] = {}


def plain_routes(routers: Sequence[APIRouter]) -> list[Route]:
    """The routers' endpoints as plain Starlette routes, matched in one flat list."""
    routes = []
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            methods = sorted(route.methods or ())
            endpoint = _calling(route.endpoint)
            ROUTE_TEMPLATES[endpoint] = route.path.replace(":segment}", "}")
            routes.append(Route(route.path, endpoint, methods=methods))
    return routes


def _calling(
    endpoint: Callable[..., Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def call(request: Request) -> Response:
        return await endpoint(request, **request.path_params)

    call.__doc__ = endpoint.__doc__
    call.__name__ = endpoint.__name__
    return call


def create_api(ctx: ServiceContext) -> ASGIApp:
    router = Router(routes=plain_routes(API_ROUTERS), redirect_slashes=False)
    return ApiGate(router, ctx)
