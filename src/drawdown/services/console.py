"""Read use cases of the admin console that the API does not have: search, balances, secret."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.engine import RowMapping

from drawdown.services.context import ServiceContext
from drawdown.store import console as store
from drawdown.store.engine import read_transaction, write_transaction

SESSION_SECRET_NAME = "console_session"

Balances = dict[str, list[tuple[str, Decimal]]]


def search_customers(
    ctx: ServiceContext, text: str, offset: int, limit: int
) -> tuple[list[RowMapping], Balances]:
    """Customers matching `text` (name, email, external id) with their cached balances."""
    with read_transaction(ctx.engine) as conn:
        rows = store.search_customers(conn, text, offset, limit)
        return rows, store.balances(conn, [r["id"] for r in rows])


def balances(ctx: ServiceContext, customer_ids: Sequence[str]) -> Balances:
    with read_transaction(ctx.engine) as conn:
        return store.balances(conn, customer_ids)


def session_secret(ctx: ServiceContext) -> str:
    """`DRAWDOWN_CONSOLE_SECRET`, or a random one generated once and kept in the database."""
    if ctx.settings.console_secret:
        return ctx.settings.console_secret
    with read_transaction(ctx.engine) as conn:
        existing = store.secret(conn, SESSION_SECRET_NAME)
    if existing is not None:
        return existing
    with write_transaction(ctx.engine) as conn:
        store.insert_secret(conn, SESSION_SECRET_NAME, secrets.token_urlsafe(48))
        # Another process may have inserted first; everyone uses the stored one.
        stored = store.secret(conn, SESSION_SECRET_NAME)
    assert stored is not None
    return stored
