"""JSON out with exact decimals (requests are parsed in `hygiene.py`).

Responses write Decimals as plain JSON numbers without exponent (docs/rules.md §1.6), which the
standard library encoder cannot do. orjson can: a Decimal becomes a `Fragment`, text that
is already JSON (its shortest exact plain form) and is written as is. orjson also encodes a
100-entry ledger page about fifteen times faster than the standard library did with the
marker strings it needed for Decimals (measured: docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.dates import format_instant

# Datetimes and dataclasses come to `_default`: drawdown writes instants its own way (§1.6)
# and never serializes a record by accident.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return orjson.Fragment(format_decimal(obj).encode())
    if isinstance(obj, datetime):
        return format_instant(obj, fractions=True)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """UTF-8 JSON with Decimals as plain numbers; raises TypeError for what cannot be
    encoded (a lone surrogate included), so a response that cannot be sent fails early."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


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
        return dumps(content)
