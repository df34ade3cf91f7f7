"""The two gates of the console: a signed-in admin for every page, a CSRF token on every form.

Both are FastAPI dependencies. `require_admin` is attached to the whole protected router,
so a new page cannot forget it; `checked_form` is how a POST handler gets its form at all,
so a new form cannot skip the CSRF check. API keys play no part here, and the session
cookie plays no part in the API (its path is `/console` and the API reads only the
Authorization header).
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.records import Admin
from drawdown.services.access import admins
from drawdown.web.pages import context_of, redirect, render, session_of

LOGIN_PATH = "/console/login"


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class CsrfRejected(Exception):
    """A form arrived without the token of this browser's session."""


async def signed_in_admin(request: Request) -> Admin | None:
    """The admin of this browser's session, or None if it is anonymous or revoked."""
    session = session_of(request)
    if session.admin_id is None:
        return None
    admin = await run_in_threadpool(admins.get_admin, context_of(request), session.admin_id)
    if admin is None:  # the account was deleted after sign-in
        return None
    if admin.session_generation != session.generation:  # signed out since
        return None
    return admin


async def require_admin(request: Request) -> Admin:
    admin = await signed_in_admin(request)
    if admin is None:
        raise SignInRequired
    request.state.console_admin = admin
    return admin


async def checked_form(request: Request) -> FormData:
    form = await request.form()
    sent = form.get("csrf_token")
    expected = session_of(request).csrf_token
    if session_of(request).fresh or not isinstance(sent, str):
        raise CsrfRejected
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected
    return form


def safe_next(target: str | None) -> str:
    """Only a console path is a valid place to return to after sign-in (no open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/customers"


async def sign_in_required(request: Request, _: Exception) -> Response:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return redirect(request, f"{LOGIN_PATH}?next={quote(target, safe='')}")


async def csrf_rejected(request: Request, _: Exception) -> Response:
    message = "This form expired or did not come from the console. Reload the page and retry."
    return render(request, "error.html", {"title": "Form rejected", "message": message}, 403)
