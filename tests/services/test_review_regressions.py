"""Regressions found in review, driven through the service and store layers on real databases."""

from __future__ import annotations

import concurrent.futures
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from drawdown.services import customers, ledger
from drawdown.services.context import ServiceContext
from drawdown.services.customers import CustomerRef
from drawdown.settings import Settings
from drawdown.store.engine import make_engine, write_transaction
from drawdown.store.invoices import next_number
from drawdown.store.migrate import upgrade


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _context(url: str, clock: Clock | None = None) -> ServiceContext:
    settings = Settings(database_url=url, sqlite_synchronous="OFF")
    engine = make_engine(settings)
    upgrade(engine)
    if clock is None:
        return ServiceContext(engine=engine, settings=settings)
    return ServiceContext(engine=engine, settings=settings, clock=clock)


def test_expiry_sweep_skips_deleted_customers(database_factory: Any) -> None:
    """`drawdown expire` stopped for good at a deleted customer with a due block (404)."""
    clock = Clock()
    ctx = _context(database_factory("sqlite"), clock)
    gone = customers.create_customer(ctx, {"name": "Gone", "email": "g@example.com"})
    kept = customers.create_customer(ctx, {"name": "Kept", "email": "k@example.com"})
    expiry = (clock.now + timedelta(days=1)).isoformat()
    for row in (gone, kept):
        ref = CustomerRef(id=row["id"])
        fields = {"entry_type": "increment", "amount": Decimal(5), "expiry_date": expiry}
        ledger.create_entry(ctx, ref, fields)
    customers.delete_customer(ctx, CustomerRef(id=gone["id"]))
    clock.now += timedelta(days=2)
    assert ledger.sweep_expiries(ctx) == 1
    assert ledger.sweep_expiries(ctx) == 0


def _next_in_own_transaction(engine: Engine) -> int:
    with write_transaction(engine) as conn:
        return next_number(conn)


def _wait_for_a_lock_wait(engine: Engine) -> None:
    deadline = time.monotonic() + 30
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() > 0:
                return
        time.sleep(0.05)
    raise AssertionError("the second transaction never waited for the first")


def test_first_invoice_numbers_race_on_postgres(database_factory: Any) -> None:
    """Two first invoices both found no counter row; the loser's insert hit the key (500)."""
    engine = _context(database_factory("postgres")).engine
    with concurrent.futures.ThreadPoolExecutor(1) as pool, write_transaction(engine) as first:
        assert next_number(first) == 1  # inserts the counter row, not yet committed
        second = pool.submit(_next_in_own_transaction, engine)
        _wait_for_a_lock_wait(engine)
        first.commit()
        assert second.result(timeout=30) == 2
    engine.dispose()
