"""Cursor pagination (docs/rules.md §1.7): limit checks, opaque keyset cursors, page envelopes.

A cursor is base64url JSON holding the list it belongs to, a digest of the
filters it was issued under, and the sort key of the last item returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from drawdown.api.deps import service_context
from drawdown.api.errors import invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import integer
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import format_instant, resolve_instant
from drawdown.ledger.errors import LedgerError
from drawdown.settings import Settings

T = TypeVar("T")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class PaginationMetadataJson(TypedDict):
    has_more: bool
    next_cursor: str | None


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: list[Any] | None  # sort key of the previous page's last item


def _filters_digest(list_name: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps([list_name, filters], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def page_request(
    settings: Settings,
    list_name: str,
    limit: int | None,
    cursor: str | None,
    filters: Mapping[str, Any],
) -> PageRequest:
    size = settings.page_limit_default if limit is None else limit
    if not 1 <= size <= settings.page_limit_max:
        raise invalid("limit", f"must be between 1 and {settings.page_limit_max}")
    if cursor is None or cursor == "":
        return PageRequest(limit=size, after=None)
    return PageRequest(limit=size, after=_decode(cursor, _filters_digest(list_name, filters)))


def _decode(cursor: str, digest: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        ok = isinstance(payload, dict) and payload.get("f") == digest
        key = payload.get("k") if ok else None
    except (ValueError, RecursionError):  # bad base64 or JSON, or a cursor nested to death
        key = None
    if not isinstance(key, list):
        raise invalid("cursor", "is not a valid cursor for this list and these filters")
    return key


def encode_cursor(list_name: str, filters: Mapping[str, Any], key: Sequence[Any]) -> str:
    payload = {"f": _filters_digest(list_name, filters), "k": list(key)}
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page(
    items: Sequence[Any],
    request: PageRequest,
    list_name: str,
    filters: Mapping[str, Any],
    key_of: Any,
) -> tuple[list[Any], PaginationMetadataJson]:
    """Split a fetch of `limit + 1` rows into the page and its pagination_metadata."""
    has_more = len(items) > request.limit
    shown = list(items[: request.limit])
    next_cursor = encode_cursor(list_name, filters, key_of(shown[-1])) if has_more else None
    return shown, {"has_more": has_more, "next_cursor": next_cursor}


@dataclass(frozen=True)
class Pager:
    """One list request's paging: its size, where it starts, and the page it answers.

    A route builds it from the request (`limit` and `cursor` query parameters) and the
    filters the cursor is bound to, fetches `fetch` items after `after(...)`, and answers
    with `respond`.
    """

    list_name: str
    filters: Mapping[str, Any]
    request: PageRequest

    @classmethod
    def of(cls, request: Request, list_name: str, filters: Mapping[str, Any]) -> Pager:
        settings = service_context(request).settings
        limit, cursor = integer(request, "limit"), request.query_params.get("cursor")
        return cls(list_name, filters, page_request(settings, list_name, limit, cursor, filters))

    @property
    def fetch(self) -> int:
        """How many items to fetch: one more than the page, to know whether more follow."""
        return self.request.limit + 1

    def after(self, *parts: Callable[[Any], Any]) -> tuple[Any, ...] | None:
        """The cursor's sort key, converted part by part (a 400 if it does not fit)."""
        return decode_key(self.request.after, *parts)

    def respond(
        self,
        items: Sequence[T],
        key_of: Callable[[T], list[Any]],
        render: Callable[[list[T]], Sequence[object]],
    ) -> Response:
        shown, meta = page(items, self.request, self.list_name, self.filters, key_of)
        return ExactJSONResponse({"data": render(shown), "pagination_metadata": meta})


def cursor_instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("an instant must be a string")
    return resolve_instant(value, "UTC", field="cursor")


def cursor_decimal(value: Any) -> Decimal:
    """A cost basis from a cursor: a finite decimal within the stored limits."""
    if not isinstance(value, str):
        raise ValueError("a decimal must be a string")
    return to_decimal(value, field="cursor")


def cursor_int(value: Any) -> int:
    """A sequence number from a cursor: a JSON integer that fits the database's BIGINT."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ValueError("a sequence number must be a non-negative 64-bit integer")
    return value


def cursor_text(value: Any) -> str:
    """A short text part of a sort key (an instant or empty): storable text, or a 400."""
    if not isinstance(value, str) or len(value) > 64 or _UNSTORABLE.search(value):
        raise ValueError("a key part must be short text")
    return value


def cursor_id(value: Any) -> str:
    """An id from a cursor: short storable text (ids are 16 alphanumerics)."""
    if not isinstance(value, str) or len(value) > 64 or _UNSTORABLE.search(value):
        raise ValueError("an id must be short text")
    return value


def decode_key(after: Sequence[Any] | None, *parts: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """A cursor's sort key converted part by part (e.g. `cursor_instant, str`), or a 400."""
    if after is None:
        return None
    try:
        if len(after) != len(parts):
            raise ValueError("wrong number of key parts")
        return tuple(convert(value) for convert, value in zip(parts, after, strict=True))
    except (ValueError, TypeError, ArithmeticError, LedgerError) as exc:
        raise invalid("cursor", "is not a valid cursor for this list") from exc


def created_key(record: Any) -> list[Any]:
    """The (created_at, id) keyset of a record, newest-first lists' cursor key."""
    return [format_instant(record.created_at, fractions=True), record.id]
