"""JSON out with exact decimals (requests are parsed in `hygiene.py`).

Responses write Decimals as plain JSON numbers without exponent (spec §1.6), which the
standard library encoder cannot do.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant


def dumps(value: Any) -> str:
    """JSON with Decimals as plain numbers, using the C encoder for everything else.

    The encoder calls `default` for each Decimal, which returns a marker string holding
    the formatted number; the markers are then unquoted. A marker starts with a NUL and a
    per-call random nonce: NUL is always escaped inside JSON strings and the nonce cannot
    be guessed, so no caller-supplied string can ever be turned into a number.
    """
    nonce = secrets.token_hex(8)

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return f"\x00{nonce}{format_decimal(obj)}\x00"
        if isinstance(obj, datetime):
            return format_instant(obj, fractions=True)
        if isinstance(obj, Mapping):
            return dict(obj)
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")

    text = json.dumps(value, default=default, separators=(",", ":"), ensure_ascii=False)

    def unquote(match: re.Match[str]) -> str:
        return match.group(2) if match.group(1) == nonce else match.group(0)

    return _MARKER.sub(unquote, text)


# One pattern for every call (compiling one per nonce was a tenth of a write's CPU time);
# the nonce is checked for each match instead.
_MARKER = re.compile(r'"\\u0000([0-9a-f]{16})(-?[0-9.]+)\\u0000"')


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
