"""JSON in and out with exact decimals.

Requests are parsed with `parse_float=Decimal` so `0.1` stays exactly 0.1; responses
write Decimals as plain JSON numbers without exponent (spec §1.6), which the
standard library encoder cannot do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response

from drawdown.api.errors import ApiError
from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant

_escape = json.encoder.encode_basestring


def dumps(value: Any) -> str:
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_escape(value))
    elif value is None or isinstance(value, bool | int):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(format_decimal(value))
    elif isinstance(value, Mapping):
        _encode_object(value, out)
    elif isinstance(value, list | tuple):
        _encode_array(value, out)
    elif isinstance(value, datetime):
        out.append(_escape(format_instant(value, fractions=True)))
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _encode_object(value: Mapping[str, Any], out: list[str]) -> None:
    out.append("{")
    for index, (key, item) in enumerate(value.items()):
        if index:
            out.append(",")
        out.append(_escape(str(key)))
        out.append(":")
        _encode(item, out)
    out.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], out: list[str]) -> None:
    out.append("[")
    for index, item in enumerate(value):
        if index:
            out.append(",")
        _encode(item, out)
    out.append("]")


class ExactJSONResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, self.media_type, background)

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def parse_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, numbers as Decimal; anything else is a 400."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            "validation",
            "The request body is not valid JSON.",
            validation_errors=[{"field": "body", "message": f"malformed JSON: {exc}"}],
        ) from exc
    if not isinstance(value, dict):
        raise ApiError(
            "validation",
            "The request body must be a JSON object.",
            validation_errors=[{"field": "body", "message": "must be a JSON object"}],
        )
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")
