"""The console's cookies: the session, the device token, the one-time flash.

Cookies are signed, not encrypted, so none carries a secret: the session holds which admin
signed in and the token every form must echo back; the device token
(services/access/signin.py) marks a browser that signed in to an account before; the flash
hands a value to the next page (for a new API key: where its secret waits on the server,
never the secret itself, web/keys.py). The session expires `SESSION_AGE_SECONDS_MAX` after
sign-in. All are scoped to `/console`, so they are never sent to (nor accepted by) the API
under `/v1`, HttpOnly, SameSite=Strict, and `Secure` when the request came over HTTPS (as
the connection or a trusted proxy says, api/forwarded.py) or `DRAWDOWN_CONSOLE_HTTPS=on`.
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
from drawdown.services.access.signin import Device
from drawdown.services.context import ServiceContext

COOKIE_NAME = "drawdown_console"
COOKIE_PATH = "/console"
SESSION_AGE_SECONDS_MAX = 12 * 60 * 60
FLASH_COOKIE_NAME = "drawdown_console_flash"
FLASH_AGE_SECONDS_MAX = 300
DEVICE_COOKIE_NAME = "drawdown_console_device"
DEVICE_AGE_SECONDS_MAX = 365 * 24 * 60 * 60
_SALT = "drawdown.console.session"
_FLASH_SALT = "drawdown.console.flash"
_DEVICE_SALT = "drawdown.console.device"


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
        self._always_secure = ctx.settings.console_https == "on"

    def secure(self, request: Request) -> bool:
        """Whether cookies get `Secure`: over HTTPS, or when the operator says it is."""
        return self._always_secure or request.url.scheme == "https"

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
            secure=self.secure(request),
        )

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE_NAME,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
        )

    def set_flash(self, request: Request, response: Response, path: str, data: Any) -> None:
        """Hand `data` to the next GET of `path` (post/redirect/get without a URL parameter)."""
        signed = self._signer().dumps(data, salt=_FLASH_SALT)
        response.set_cookie(FLASH_COOKIE_NAME, signed, max_age=FLASH_AGE_SECONDS_MAX,
                            path=path, httponly=True, samesite="strict",
                            secure=self.secure(request))  # fmt: skip

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
                               secure=self.secure(request))  # fmt: skip

    def read_device(self, request: Request) -> Device | None:
        """The browser's device token, if it carries a valid one."""
        raw = request.cookies.get(DEVICE_COOKIE_NAME)
        if raw is None:
            return None
        try:
            data = self._signer().loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_AGE_SECONDS_MAX)
            return Device(account=str(data["a"]), token=str(data["t"]))
        except (BadSignature, KeyError, TypeError):
            return None

    def write_device(self, request: Request, response: Response, device: Device) -> None:
        signed = self._signer().dumps({"a": device.account, "t": device.token}, salt=_DEVICE_SALT)
        response.set_cookie(DEVICE_COOKIE_NAME, signed, max_age=DEVICE_AGE_SECONDS_MAX,
                            path=COOKIE_PATH, httponly=True, samesite="strict",
                            secure=self.secure(request))  # fmt: skip

    def _signer(self) -> URLSafeTimedSerializer:
        return self._serializer
