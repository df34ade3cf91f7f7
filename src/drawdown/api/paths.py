"""Path parameters that may hold any character, `/` included (docs/rules.md §1.6: external ids).

The SDKs send `acme/42` as `acme%2F42`, but the server decodes `%2F` before routing, which
would split the id into two segments and answer 404 url-not-found. So `ApiGate` routes on
`routable_path`: each raw segment decoded, with only `%` and `/` escaped again. Routes
declare such parameters as `{name:segment}`, whose convertor undoes that escaping.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import Scope

BY_EXTERNAL_ID = "/customers/external_customer_id/{external_customer_id:segment}"


def _escape(segment: str) -> str:
    return segment.replace("%", "%25").replace("/", "%2F")


def routable_path(scope: Scope) -> str:
    """The request path with every segment decoded but still one segment."""
    raw = scope.get("raw_path")
    if not raw or b"%" not in raw:
        # Nothing escaped: every segment decodes to itself (the common case, and per request).
        return str(scope["path"])
    segments = raw.decode("latin-1").split("/")
    return "/".join(_escape(unquote(segment)) for segment in segments)


class SegmentConvertor(Convertor[str]):
    """One path segment, with the escaping of `routable_path` undone."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return _escape(value)


register_url_convertor("segment", SegmentConvertor())
