"""The framework ceilings: a one-route app on the server stack drawdown itself runs.

`python -m benchmarks.ceiling {fastapi,starlette} --port P` serves `GET /v1/ping` (the same
body as drawdown's ping) with nothing else: no authentication, no database. It binds and
configures uvicorn exactly as `drawdown serve` does (`drawdown.serving`: httptools, uvloop,
TCP_NODELAY, the same GIL switch interval), so the only difference from drawdown's ping is
drawdown's own work. drawdown's API is served by Starlette's `Router` (`api/app.py`), so the
Starlette app is its ceiling; the FastAPI app shows what FastAPI's routing would cost.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from drawdown import serving

PONG = b'{"response":"pong"}'


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/v1/ping")
    async def ping() -> Response:
        return Response(PONG, media_type="application/json")

    return app


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ping(request: Request) -> Response:
        return Response(PONG, media_type="application/json")

    return Starlette(routes=[Route("/v1/ping", ping)])


APPS = {"fastapi": fastapi_app, "starlette": starlette_app}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("framework", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sock = serving.bind("127.0.0.1", args.port, reuse_port=False, listen=True)
    # drawdown's own uvicorn settings, so the stack stays the same when they change.
    server = uvicorn.Server(serving._uvicorn_config(APPS[args.framework]()))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
