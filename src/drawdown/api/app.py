"""The ASGI application factory: routes under /v1, the API gate, error handlers, console."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from drawdown.api import errors
from drawdown.api.middleware import ApiGate
from drawdown.api.routes import customers, invoices, ledger, ping
from drawdown.services.context import ServiceContext
from drawdown.settings import Settings
from drawdown.store.engine import make_engine
from drawdown.web.app import mount as mount_console

API_ROUTERS = (ping.router, customers.router, ledger.router, invoices.router)


def create_app(settings: Settings | None = None, ctx: ServiceContext | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    ctx = ctx or ServiceContext(engine=make_engine(settings), settings=settings)
    app = FastAPI(title="drawdown", version="0.1.0", redirect_slashes=False)
    app.router.redirect_slashes = False
    app.state.ctx = ctx
    for router in API_ROUTERS:
        app.include_router(router, prefix="/v1")
    errors.install(app)
    app.add_middleware(ApiGate, ctx=ctx)
    mount_console(app, ctx)
    logging.getLogger("drawdown").setLevel(logging.INFO)
    return app
