"""The console's view of sign-in throttling (the rules themselves: services/access/signin.py).

The throttle never looks at the client address: attempts count per account, and per
(account, device) for a browser carrying a device token for that account.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from drawdown.services.access import signin
from drawdown.services.context import ServiceContext
from drawdown.web.session import SessionCodec


class SignInThrottle:
    def __init__(self, ctx: ServiceContext, codec: SessionCodec) -> None:
        self._ctx = ctx
        self._codec = codec

    async def begin(self, request: Request, email: str) -> signin.Attempt | int:
        """The attempt, counted until it succeeds; or how many seconds to wait."""
        device = self._codec.read_device(request)
        return await run_in_threadpool(signin.begin, self._ctx, email, device)

    async def succeeded(self, attempt: signin.Attempt) -> None:
        await run_in_threadpool(signin.succeeded, self._ctx, attempt)

    async def withdrawn(self, attempt: signin.Attempt) -> None:
        await run_in_threadpool(signin.withdrawn, self._ctx, attempt)
