"""The console session: a signed cookie holding the admin id and the CSRF token.

The cookie is signed, not encrypted: it carries nothing secret, only which admin signed in
and the token every form must echo back. It expires `SESSION_AGE_SECONDS_MAX` after sign-in
and is scoped to `/console`, so it is never sent to (nor accepted by) the API under `/v1`.
The signing key is `DRAWDOWN_CONSOLE_SECRET` or, failing that, a random key generated once
and kept in `server_secrets`, so sessions survive restarts and work across processes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from drawdown.services import console
from drawdown.services.context import ServiceContext

COOKIE_NAME = "drawdown_console"
COOKIE_PATH = "/console"
SESSION_AGE_SECONDS_MAX = 12 * 60 * 60
FLASH_COOKIE_NAME = "drawdown_console_flash"
FLASH_AGE_SECONDS_MAX = 300
_SALT = "drawdown.console.session"
_FLASH_SALT = "drawdown.console.flash"


@dataclass(frozen=True)
class Session:
    """Who is signed in (None before sign-in) and the CSRF token of this browser session."""

    admin_id: str | None
    csrf_token: str
    generation: int = 0  # the admin's session generation at sign-in (sign-out bumps it)
    fresh: bool = field(default=False, compare=False)  # not yet in the browser's cookie jar


def new_session(admin_id: str | None = None, generation: int = 0) -> Session:
    token = secrets.token_urlsafe(32)
    return Session(admin_id=admin_id, csrf_token=token, generation=generation, fresh=True)


class SessionCodec:
    """Reads and writes the session cookie, signed with the console's key.

    The key is resolved when the console is built (a database read, maybe a write), never
    on the event loop while serving.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self._serializer = URLSafeTimedSerializer(console.session_secret(ctx), salt=_SALT)

    def read(self, request: Request) -> Session:
        """The browser's session, or a fresh anonymous one if the cookie is absent or bad."""
        raw = request.cookies.get(COOKIE_NAME)
        if raw is None:
            return new_session()
        try:
            data = self._signer().loads(raw, max_age=SESSION_AGE_SECONDS_MAX)
            return Session(admin_id=data["a"], csrf_token=str(data["c"]), generation=int(data["g"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return new_session()

    def write(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE_NAME,
            self._signer().dumps(
                {"a": session.admin_id, "c": session.csrf_token, "g": session.generation}
            ),
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE_NAME,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def set_flash(self, request: Request, response: Response, path: str, data: Any) -> None:
        """Hand `data` to the next GET of `path` (post/redirect/get without a URL parameter)."""
        signed = self._signer().dumps(data, salt=_FLASH_SALT)
        response.set_cookie(FLASH_COOKIE_NAME, signed, max_age=FLASH_AGE_SECONDS_MAX,
                            path=path, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # fmt: skip

    def read_flash(self, request: Request) -> Any:
        raw = request.cookies.get(FLASH_COOKIE_NAME)
        if raw is None:
            return None
        try:
            return self._signer().loads(raw, salt=_FLASH_SALT, max_age=FLASH_AGE_SECONDS_MAX)
        except BadSignature:
            return None

    def clear_flash(self, request: Request, response: Response, path: str) -> None:
        """Shown once: a reload must not show it again."""
        response.delete_cookie(FLASH_COOKIE_NAME, path=path, httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")  # fmt: skip

    def _signer(self) -> URLSafeTimedSerializer:
        return self._serializer
