"""Sign-in and sign-out pages.

A successful sign-in starts a new session with a new CSRF token, so a token seen before
sign-in (or planted by someone else) is worthless afterwards.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.services.access import admins, signin
from drawdown.web.auth import LOGIN_PATH, checked_form, safe_next, signed_in_admin
from drawdown.web.pages import codec_of, context_of, redirect, render, session_of
from drawdown.web.session import new_session
from drawdown.web.throttle import SignInThrottle

WRONG = "Wrong email or password."
BUSY = "Too many sign-ins right now; wait a few seconds and retry."


def too_many_attempts(seconds: int) -> str:
    return f"Too many failed sign-ins for this account; wait {seconds} s and retry."


public = APIRouter()
protected = APIRouter()


@public.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    """Sign in."""
    if await signed_in_admin(request) is not None:
        return redirect(request, safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "email": ""})


@public.post("/login")
async def login(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Check the credentials and start a session."""
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    context = {"next": safe_next(str(form.get("next", ""))), "email": email}
    throttle: SignInThrottle = request.app.state.console_throttle
    attempt = await throttle.begin(request, email)
    if isinstance(attempt, int):
        return _refused(request, context, too_many_attempts(attempt), attempt)
    try:
        admin = await run_in_threadpool(admins.authenticate, context_of(request), email, password)
    except admins.PasswordChecksBusy:
        await throttle.withdrawn(attempt)
        return _refused(request, context, BUSY, 5)
    if admin is None:
        return render(request, "login.html", {**context, "error": WRONG}, status_code=400)
    await throttle.succeeded(attempt)
    request.state.console_session = new_session(
        admin_id=admin.id, generation=admin.session_generation
    )
    response = redirect(request, context["next"])
    # This browser now has its own count for this account (services/access/signin.py).
    codec_of(request).write_device(request, response, signin.new_device(admin.email))
    return response


def _refused(request: Request, context: dict[str, str], error: str, seconds: int) -> Response:
    response = render(request, "login.html", {**context, "error": error}, status_code=429)
    response.headers["Retry-After"] = str(seconds)
    return response


@protected.post("/logout")
async def logout(request: Request, _: FormData = Depends(checked_form)) -> Response:
    """End the session, and every other session of this admin with it."""
    admin_id = session_of(request).admin_id
    if admin_id is not None:
        await run_in_threadpool(admins.end_sessions, context_of(request), admin_id)
    response = redirect(request, LOGIN_PATH)
    codec_of(request).clear(request, response)
    return response
