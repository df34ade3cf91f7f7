"""The web console: pages under /console, files under /console/static.

Two routers: `public` (sign-in only) and `protected`, which carries `require_admin` as a
router-wide dependency so that every page added to it is behind sign-in by construction.
Built by the composition root (`drawdown/app.py`) beside the API; it knows neither the API
nor how the database was opened.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from drawdown.services.context import ServiceContext
from drawdown.web import customers, dashboard, keys, login, usage, webhooks
from drawdown.web.auth import (
    CsrfRejected,
    SignInRequired,
    csrf_rejected,
    require_admin,
    sign_in_required,
)
from drawdown.web.pages import HERE, not_found
from drawdown.web.session import SessionCodec
from drawdown.web.throttle import SignInThrottle

PREFIX = "/console"
# Every router whose pages need a signed-in admin (tests walk this list too).
PROTECTED_ROUTERS = (
    customers.router, dashboard.router, webhooks.router, keys.router, login.protected,
    usage.router,
)  # fmt: skip


def create_console(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.state.ctx = ctx
    app.state.console_sessions = SessionCodec(ctx)
    app.state.console_throttle = SignInThrottle(ctx, app.state.console_sessions)
    protected = APIRouter(prefix=PREFIX, dependencies=[Depends(require_admin)])
    # "/console" itself: a path-less route cannot come through include_router.
    protected.add_api_route("", customers.home, methods=["GET"])
    for router in PROTECTED_ROUTERS:
        protected.include_router(router)
    app.include_router(login.public, prefix=PREFIX, include_in_schema=False)
    app.include_router(protected, include_in_schema=False)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfRejected, csrf_rejected)
    app.add_exception_handler(404, not_found)
    return app
