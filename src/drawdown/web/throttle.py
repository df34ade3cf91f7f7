"""The console's view of sign-in throttling (the rule itself: services/access/signin.py).

The client address is the connection's peer: behind a reverse proxy every browser shares
the proxy's address, so put the throttle's numbers in proportion (docs/operations).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from drawdown.services.access import signin
from drawdown.services.context import ServiceContext


class SignInThrottle:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @staticmethod
    def client(request: Request) -> str:
        return request.client.host if request.client is not None else "unknown"

    async def blocked(self, request: Request, email: str) -> bool:
        return await run_in_threadpool(signin.blocked, self._ctx, email, self.client(request))

    async def failed(self, request: Request, email: str) -> None:
        await run_in_threadpool(signin.failed, self._ctx, email, self.client(request))

    async def succeeded(self, request: Request, email: str) -> None:
        await run_in_threadpool(signin.succeeded, self._ctx, email, self.client(request))
