"""Ledger commands to and from JSON, for the per-ledger command log that replay reads."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.ledger import commands
from drawdown.ledger.model import Filter

_KINDS: dict[str, type[Any]] = {
    "increment": commands.Increment,
    "decrement": commands.Decrement,
    "expiration_change": commands.ExpirationChange,
    "void": commands.Void,
    "amendment": commands.Amendment,
    "activate": commands.Activate,
}
_NAMES = {cls: name for name, cls in _KINDS.items()}
_DECIMALS = {"amount", "per_unit_cost_basis"}
_INSTANTS = {"effective_date", "expiry_date", "target_expiry_date"}


def encode_command(command: Any) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {}
    for f in dataclasses.fields(command):
        payload[f.name] = _encode_value(f.name, getattr(command, f.name))
    return _NAMES[type(command)], payload


def _encode_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DECIMALS:
        return str(value)
    if name in _INSTANTS:
        return value.isoformat()
    if name == "filters":
        return [{"field": f.field, "operator": f.operator, "values": list(f.values)} for f in value]
    if name == "metadata":
        return dict(value)
    return value


def decode_command(kind: str, payload: dict[str, Any]) -> Any:
    cls = _KINDS[kind]
    values = {name: _decode_value(name, value) for name, value in payload.items()}
    return cls(**values)


def _decode_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DECIMALS:
        return Decimal(value)
    if name in _INSTANTS:
        return datetime.fromisoformat(value)
    if name == "filters":
        return tuple(Filter(f["field"], f["operator"], tuple(f["values"])) for f in value)
    return value
