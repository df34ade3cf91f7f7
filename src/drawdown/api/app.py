"""The API application: /v1 routes, the gate before them, and Orb-shaped errors.

Built by the composition root (`drawdown/app.py`) from a ready `ServiceContext`; it knows
nothing of the console or of how the database was opened.
"""

from __future__ import annotations

from fastapi import FastAPI

from drawdown import __version__
from drawdown.api import errors
from drawdown.api.gate import ApiGate
from drawdown.api.routes import customers, invoices, ledger, ping, top_ups
from drawdown.services.context import ServiceContext

API_ROUTERS = (ping.router, customers.router, ledger.router, top_ups.router, invoices.router)


def create_api(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(
        title="drawdown",
        version=__version__,
        redirect_slashes=False,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.router.redirect_slashes = False
    app.state.ctx = ctx
    for router in API_ROUTERS:
        app.include_router(router)
    errors.install(app)
    app.add_middleware(ApiGate, ctx=ctx)
    return app
