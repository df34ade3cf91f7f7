"""SQL for the console: admin accounts, server secrets, customer search, cached balances.

Only reads and the two console-owned tables (`admin_users`, `server_secrets`) live here;
every ledger write goes through the services' write path, like the API's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.engine import RowMapping

from drawdown.store.engine import execute_unless_duplicate
from drawdown.store.schema import admin_users, customers, ledgers, server_secrets


def insert_admin(
    conn: Connection, *, admin_id: str, email: str, password_hash: str, now: datetime
) -> bool:
    """False when the email is already taken (the unique index decides, not a lookup)."""
    statement = admin_users.insert().values(
        id=admin_id, email=email, password_hash=password_hash, created_at=now
    )
    return execute_unless_duplicate(conn, statement)


def admin_by_email(conn: Connection, email: str) -> RowMapping | None:
    query = select(admin_users).where(admin_users.c.email == email)
    return conn.execute(query).mappings().first()


def admin_by_id(conn: Connection, admin_id: str) -> RowMapping | None:
    query = select(admin_users).where(admin_users.c.id == admin_id)
    return conn.execute(query).mappings().first()


def update_password_hash(conn: Connection, admin_id: str, password_hash: str) -> None:
    conn.execute(
        admin_users.update().where(admin_users.c.id == admin_id).values(password_hash=password_hash)
    )


def bump_session_generation(conn: Connection, admin_id: str) -> None:
    column = admin_users.c.session_generation
    conn.execute(
        update(admin_users)
        .where(admin_users.c.id == admin_id)
        .values(session_generation=column + 1)
    )


def secret(conn: Connection, name: str) -> str | None:
    query = select(server_secrets.c.value).where(server_secrets.c.name == name)
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else str(value)


def insert_secret(conn: Connection, name: str, value: str) -> None:
    """Insert unless another process won the race; callers re-read afterwards."""
    execute_unless_duplicate(conn, server_secrets.insert().values(name=name, value=value))


def search_customers(conn: Connection, text: str, offset: int, limit: int) -> list[RowMapping]:
    """Live customers, newest first, whose name, email or external id contains `text`."""
    query = select(customers).where(customers.c.deleted_at.is_(None))
    if text:
        pattern = "%" + _escape_like(text.lower()) + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        customers.c.name,
                        customers.c.email,
                        customers.c.external_customer_id,
                    )
                )
            )
        )
    query = query.order_by(customers.c.created_at.desc(), customers.c.id.desc())
    return list(conn.execute(query.offset(offset).limit(limit)).mappings())


def _escape_like(text: str) -> str:
    # A search for "50%" means the characters, not a wildcard.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def balances(conn: Connection, customer_ids: Sequence[str]) -> dict[str, list[tuple[str, Decimal]]]:
    """Cached ledger balances per customer, as (currency, balance) sorted by currency."""
    result: dict[str, list[tuple[str, Decimal]]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return result
    query = (
        select(ledgers.c.customer_id, ledgers.c.currency, ledgers.c.balance)
        .where(ledgers.c.customer_id.in_(list(customer_ids)))
        .order_by(ledgers.c.customer_id, ledgers.c.currency)
    )
    for row in conn.execute(query):
        result[row.customer_id].append((row.currency, row.balance))
    return result
