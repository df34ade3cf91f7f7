"""Wire form of `GET /v1/ping`: always the same bytes, encoded once."""

from __future__ import annotations

from typing import Literal, TypedDict

from drawdown.api.jsonio import dumps


class PingResponseJson(TypedDict):
    response: Literal["pong"]


PING: PingResponseJson = {"response": "pong"}
PONG = dumps(PING)
