"""Query-string helpers: bracketed range filters, booleans and customer filters as the SDKs
send them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi import Request

from drawdown.api.errors import invalid
from drawdown.services.write_path import CustomerRef

RANGE_OPS = ("gt", "gte", "lt", "lte")


def without_blank_params(query_string: bytes) -> bytes:
    """Drop `key=` / bare `key` parameters: how the Node SDK sends a param set to `null`.

    The Python SDK omits null params; the Node SDK (qs) sends them with an empty value.
    Both mean "not given", so blank parameters are removed before anything reads them.
    """
    parts = [p for p in query_string.split(b"&") if p.partition(b"=")[2]]
    return b"&".join(parts)


def range_filters(request: Request, field: str) -> list[tuple[str, str]]:
    """`field[gt]=…` style parameters as (op, raw value) pairs, in a stable order."""
    result = []
    for op in RANGE_OPS:
        value = request.query_params.get(f"{field}[{op}]")
        if value is not None:
            result.append((op, value))
    return result


def boolean(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(name, "must be true or false")


_INTEGER = re.compile("-?[0-9]{1,18}")


def integer(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    # ASCII digits only (docs/rules.md §1.2): int() would also take "٧", "７", "1_0" and " 5".
    if _INTEGER.fullmatch(raw) is None:
        raise invalid(name, "must be an integer")
    return int(raw)


def one_of(request: Request, name: str, allowed: Sequence[str]) -> str | None:
    raw = request.query_params.get(name)
    if raw is not None and raw not in allowed:
        raise invalid(name, f"must be one of {', '.join(allowed)}")
    return raw


def customer_filter(request: Request) -> CustomerRef | None:
    """The customer a listing is filtered on: `customer_id`, else `external_customer_id`."""
    params = request.query_params
    if (customer_id := params.get("customer_id")) is not None:
        return CustomerRef(id=customer_id)
    if (external_id := params.get("external_customer_id")) is not None:
        return CustomerRef(external_id=external_id)
    return None


def one_customer(request: Request, blamed: str) -> CustomerRef | None:
    """The customer `customer_id` or `external_customer_id` names, if any; given both, a 400
    on the field `blamed`."""
    params = request.query_params
    customer_id, external_id = params.get("customer_id"), params.get("external_customer_id")
    if customer_id is not None and external_id is not None:
        raise invalid(blamed, "give customer_id or external_customer_id, not both")
    if customer_id is None and external_id is None:
        return None
    return CustomerRef(id=customer_id, external_id=external_id)
