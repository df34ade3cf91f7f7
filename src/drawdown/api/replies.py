"""Repliers: how a write's result and its domain errors are rendered, inside its transaction.

The write path calls these before it commits (services/write_path.py), so a response that
cannot be encoded fails the write instead of following it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from drawdown.api.errors import domain_error
from drawdown.api.jsonio import dumps
from drawdown.services.write_path import Reply

T = TypeVar("T")


def error_reply(error: Exception) -> Reply | None:
    """The Orb error a domain error maps to (docs/rules.md §1.8), or None for anything else."""
    mapped = domain_error(error)
    if mapped is None:
        return None
    status, body, headers = mapped
    return Reply(status, dumps(body), tuple(headers.items()))


class JsonReplier(Generic[T]):
    """`render(result)` as a JSON body with `status`; domain errors as Orb errors."""

    def __init__(self, status: int, render: Callable[[T], Any]) -> None:
        self.status = status
        self.render = render

    def ok(self, result: T) -> Reply:
        return Reply(self.status, dumps(self.render(result)))

    def failed(self, error: Exception) -> Reply | None:
        return error_reply(error)


class NoContent:
    """204 with no body (DELETEs)."""

    def ok(self, result: object) -> Reply:
        return Reply(204, b"")

    def failed(self, error: Exception) -> Reply | None:
        return error_reply(error)


NO_CONTENT = NoContent()
