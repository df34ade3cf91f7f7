"""Rendering for the console: the Jinja2 environment, its filters and response headers.

Every console page leaves with `Cache-Control: no-store` (pages show balances and, once,
API secrets) and a Content-Security-Policy that only allows drawdown's own scripts and
styles, so the console works offline and an injected tag cannot load anything.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from drawdown.ledger.amounts import format_decimal
from drawdown.services.context import ServiceContext
from drawdown.web.session import Session, SessionCodec

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def amount(value: Decimal | None) -> str:
    return "—" if value is None else format_decimal(value)


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d")


def query(base: dict[str, Any], **changes: Any) -> str:
    """A query string from `base` with `changes` applied; None and "" values are dropped."""
    merged = {**base, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(amount=amount, when=when, day=day)
templates.env.globals.update(query=query)


def context_of(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def codec_of(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.console_sessions
    return codec


def session_of(request: Request) -> Session:
    """This request's session, read from the cookie once."""
    if not hasattr(request.state, "console_session"):
        request.state.console_session = codec_of(request).read(request)
    session: Session = request.state.console_session
    return session


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    session = session_of(request)
    full = {
        "csrf_token": session.csrf_token,
        "admin": getattr(request.state, "console_admin", None),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    return finish(request, response)


def redirect(request: Request, url: str) -> Response:
    return finish(request, RedirectResponse(url, status_code=303))


def finish(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    session = session_of(request)
    if session.fresh:
        codec_of(request).write(request, response, session)
    return response


async def not_found(request: Request, _: Exception) -> Response:
    """Unknown console paths get the console's own page, not the API's JSON."""
    message = "There is no such page in the console."
    return render(request, "error.html", {"title": "Not found", "message": message}, 404)
