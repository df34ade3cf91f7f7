"""SQL for the console: admin accounts, server secrets, customer search, cached balances.

Only reads and the console-owned tables (`admin_users`, `server_secrets`, `signin_failures`)
live here;
ledger balances come from `store/ledger_tables.balances`;
every ledger write goes through the services' write path, like the API's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from drawdown.records import Admin, Customer
from drawdown.store.customers import customer_of
from drawdown.store.rows import record_of
from drawdown.store.schema import admin_users, customers, server_secrets, signin_failures
from drawdown.store.tx import Tx


def insert_admin(tx: Tx, *, admin_id: str, email: str, password_hash: str, now: datetime) -> bool:
    """False when the email is already taken (the unique index decides, not a lookup)."""
    statement = admin_users.insert().values(
        id=admin_id, email=email, password_hash=password_hash, created_at=now
    )
    return tx.insert_unless_duplicate(statement)


def _admin(row: Any) -> Admin | None:
    if row is None:
        return None
    admin: Admin = record_of(Admin, row)
    return admin


def admin_by_email(tx: Tx, email: str) -> Admin | None:
    query = select(admin_users).where(admin_users.c.email == email)
    return _admin(tx.execute(query).mappings().first())


def admin_by_id(tx: Tx, admin_id: str) -> Admin | None:
    query = select(admin_users).where(admin_users.c.id == admin_id)
    return _admin(tx.execute(query).mappings().first())


def list_admins(tx: Tx) -> list[Admin]:
    query = select(admin_users).order_by(admin_users.c.email)
    return [record_of(Admin, row) for row in tx.execute(query).mappings()]


def delete_admin(tx: Tx, admin_id: str) -> bool:
    result = tx.execute(admin_users.delete().where(admin_users.c.id == admin_id))
    return int(result.rowcount) == 1


def update_password_hash(tx: Tx, admin_id: str, password_hash: str) -> None:
    tx.execute(
        admin_users.update().where(admin_users.c.id == admin_id).values(password_hash=password_hash)
    )


def bump_session_generation(tx: Tx, admin_id: str) -> None:
    column = admin_users.c.session_generation
    tx.execute(
        update(admin_users)
        .where(admin_users.c.id == admin_id)
        .values(session_generation=column + 1)
    )


def secret(tx: Tx, name: str) -> str | None:
    query = select(server_secrets.c.value).where(server_secrets.c.name == name)
    value = tx.execute(query).scalar_one_or_none()
    return None if value is None else str(value)


def insert_secret(tx: Tx, name: str, value: str) -> None:
    """Insert unless another process won the race; callers re-read afterwards."""
    tx.insert_unless_duplicate(server_secrets.insert().values(name=name, value=value))


def touch_secret(tx: Tx, name: str, value: str) -> None:
    """Set a server value, inserting it the first time (readiness's probe write)."""
    statement = update(server_secrets).where(server_secrets.c.name == name).values(value=value)
    if int(tx.execute(statement).rowcount) == 0:
        tx.insert_unless_duplicate(server_secrets.insert().values(name=name, value=value))


def search_customers(tx: Tx, text: str, offset: int, limit: int) -> list[Customer]:
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
    return [customer_of(row) for row in tx.execute(query.offset(offset).limit(limit)).mappings()]


def _escape_like(text: str) -> str:
    # A search for "50%" means the characters, not a wildcard.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def recent_failures(tx: Tx, key: str, since: datetime) -> tuple[int, datetime | None]:
    """How many failures `key` had after `since`, and when the latest was."""
    query = select(func.count(), func.max(signin_failures.c.failed_at)).where(
        signin_failures.c.key == key, signin_failures.c.failed_at > since
    )
    count, latest = tx.execute(query).one()
    return int(count), latest


def record_failure(tx: Tx, failure_id: str, key: str, now: datetime, since: datetime) -> None:
    """Add a failure and prune everyone's expired rows."""
    tx.execute(signin_failures.insert().values(id=failure_id, key=key, failed_at=now))
    tx.execute(signin_failures.delete().where(signin_failures.c.failed_at <= since))


def delete_failure(tx: Tx, failure_id: str) -> None:
    tx.execute(signin_failures.delete().where(signin_failures.c.id == failure_id))


def forget_failures(tx: Tx, key: str) -> None:
    tx.execute(signin_failures.delete().where(signin_failures.c.key == key))


def take_secret(tx: Tx, name: str) -> str | None:
    """A one-time value: read and deleted in the same transaction (None if already taken)."""
    value = secret(tx, name)
    if value is not None:
        tx.execute(server_secrets.delete().where(server_secrets.c.name == name))
    return value


def secrets_named(tx: Tx, prefix: str) -> list[tuple[str, str]]:
    """(name, value) of every server secret whose name starts with `prefix`."""
    query = select(server_secrets.c.name, server_secrets.c.value).where(
        server_secrets.c.name.startswith(prefix, autoescape=True)
    )
    return [(str(name), str(value)) for name, value in tx.execute(query)]


def delete_secrets(tx: Tx, names: list[str]) -> None:
    if names:
        tx.execute(server_secrets.delete().where(server_secrets.c.name.in_(names)))
