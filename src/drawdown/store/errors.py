"""What the store's failures mean to callers, without them importing SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError


def is_transient(error: BaseException) -> bool:
    """A lock timeout or a lost connection: the same request can succeed on retry."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)
