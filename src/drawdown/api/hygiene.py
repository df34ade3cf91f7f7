"""Text that can be stored (docs/rules.md §1.2), checked at the edge before any state is read.

Every string a request carries — body values and keys, path ids, query values, cursors,
the Idempotency-Key — must be valid Unicode without lone surrogates and without U+0000;
a body may nest at most 32 levels and may not repeat a key in one object; a body must be
declared JSON. A violation is a 400 request-validation naming the field, so nothing a
request writes can later fail to be rendered or stored (PostgreSQL refuses U+0000 in text,
and no encoder can write a lone surrogate as UTF-8).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from drawdown.api.errors import ApiError

DEPTH_MAX = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(
        "validation",
        "One or more fields in the request are invalid.",
        validation_errors=[{"field": field, "message": message}],
    )


def check_text(value: str, field: str) -> str:
    """`value` if it can be stored, else a 400 naming `field`."""
    if _UNSTORABLE.search(value) is not None:
        raise invalid(field, "must be valid Unicode text without U+0000 or lone surrogates")
    return value


# §1.9: printable ASCII, no space at either end. A key is never trimmed: a client that trims
# on retry must get a 400, not a second charge under a second key.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


def check_idempotency_key(key: str, length_max: int) -> str:
    """`key` if it is 1..`length_max` printable ASCII characters without a space at either
    end, else a 400 naming the header."""
    if not 1 <= len(key) <= length_max:
        raise invalid("Idempotency-Key", f"must be 1-{length_max} characters")
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise invalid("Idempotency-Key", "must be printable ASCII characters (0x20-0x7E) "
                                         "without a leading or trailing space")  # fmt: skip
    return key


def check_content_encoding(encoding: str | None) -> None:
    """§1.2: bodies are plain JSON; a compressed (or otherwise encoded) body is a 415 rather
    than being read as if it were JSON."""
    if encoding is None:
        return
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    if any(c != "identity" for c in codings):
        raise ApiError("unsupported_media_type",
                       f"Content-Encoding {encoding!r} is not supported; send the body "
                       "uncompressed (identity).")  # fmt: skip


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def parse_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The request body as a checked JSON object (numbers as Decimal); `{}` when empty."""
    if not raw.strip():
        return {}
    if not is_json_media_type(content_type):
        raise invalid("Content-Type", "must be application/json for a request with a body")
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_pairs
        )
    except _DuplicateKey as exc:
        raise invalid(_printable(exc.key), "appears more than once in one object") from exc
    except RecursionError as exc:
        raise invalid("body", f"must not nest deeper than {DEPTH_MAX} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            "validation",
            "The request body is not valid JSON.",
            validation_errors=[{"field": "body", "message": f"malformed JSON: {exc}"}],
        ) from exc
    if not isinstance(value, dict):
        raise invalid("body", "must be a JSON object")
    check_tree(value)
    return value


def check_tree(value: Any, path: str = "", depth: int = 1) -> None:
    """Depth, keys and strings of a parsed body (iterative parts kept shallow on purpose)."""
    if depth > DEPTH_MAX:
        raise invalid(path or "body", f"must not nest deeper than {DEPTH_MAX} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key) is not None:
                raise invalid(path or "body", "keys must be valid Unicode text without U+0000 "
                                               "or lone surrogates")  # fmt: skip
            _check_item(item, f"{path}.{key}" if path else key, depth)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_item(item, f"{path}.{index}" if path else str(index), depth)


def _check_item(item: Any, path: str, depth: int) -> None:
    if isinstance(item, str):
        check_text(item, path)
    elif isinstance(item, dict | list):
        check_tree(item, path, depth + 1)


def _printable(key: str) -> str:
    return _UNSTORABLE.sub("\ufffd", key)


def check_query_string(query: bytes) -> None:
    """Query parameters: percent-escapes must decode as UTF-8, names and values be storable."""
    try:
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise invalid("query", "must be percent-encoded UTF-8") from exc
    for name, value in params:
        check_text(name, "query")
        check_text(value, _printable(name))


def check_path(scope_raw_path: bytes | None, path: str) -> None:
    """The path's percent-escapes must decode as UTF-8 and its text be storable."""
    if scope_raw_path:
        try:
            unquote_to_bytes(scope_raw_path.decode("latin-1")).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid("path", "must be percent-encoded UTF-8") from exc
    check_text(path, "path")
