"""Rows to records: the one generic mapping from a Core row to a `drawdown.records` dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def record_of(cls: type[R], row: Mapping[str, Any]) -> R:
    """A record from a Core row mapping, taking exactly the record's fields."""
    return cls(**{f.name: row[f.name] for f in fields(cls)})
