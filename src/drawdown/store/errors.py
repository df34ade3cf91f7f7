"""What the store's failures mean to callers, without them importing SQLAlchemy."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError


def is_transient(error: BaseException) -> bool:
    """A lock timeout or a lost connection: the same request can succeed on retry."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def database_error_kind(error: BaseException) -> str | None:
    """For metrics: "transient" (lock timeout, lost connection), "other" for any other
    database error, None when `error` did not come from the database."""
    if is_transient(error):
        return "transient"
    return "other" if isinstance(error, SQLAlchemyError) else None


def explain_open_failure(error: BaseException, database_url: str) -> str | None:
    """One line saying why the database could not be opened and what to do, or None when
    `error` is not a failure to reach or open the database."""
    if not isinstance(error, OperationalError):
        return None
    detail = str(error.orig) if error.orig is not None else str(error)
    try:
        url = make_url(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    except ArgumentError:
        return None
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        return (
            f"cannot open the SQLite database {path!r} ({detail}); check that its directory "
            "exists and is writable, or set DRAWDOWN_DATABASE_URL / --database-url"
        )
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    name, user = url.database or "", url.username or ""
    if match := re.search(r'database "([^"]+)" does not exist', detail):
        return (
            f"the PostgreSQL database {match.group(1)!r} does not exist on {where}; create it "
            f"first (createdb -h {url.host or 'localhost'} -U {user or 'postgres'} {name}, "
            f"or CREATE DATABASE {name};)"
        )
    if match := re.search(r'role "([^"]+)" does not exist', detail):
        return (
            f"PostgreSQL on {where} has no role {match.group(1)!r}; create it "
            f"(CREATE ROLE {match.group(1)} LOGIN;) or put another user in the database URL"
        )
    if "password authentication failed" in detail or "no password supplied" in detail:
        return f"PostgreSQL on {where} refused the login of {user!r}; check the user and password"
    if "Connection refused" in detail or "resolve host" in detail or "timeout" in detail:
        reason = detail.splitlines()[0].split("failed: ")[-1].strip()
        return (
            f"cannot reach PostgreSQL at {where} ({reason}); is the server running there? "
            "check DRAWDOWN_DATABASE_URL / --database-url"
        )
    first = " ".join(detail.split())
    return f"cannot open the PostgreSQL database {name!r} on {where}: {first}"
