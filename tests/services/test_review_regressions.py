"""Regressions found in review, driven through the service and store layers on real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from drawdown.services import customers
from drawdown.services.context import ServiceContext
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store.invoices import next_number
from drawdown.store.tx import Tx
from support.contexts import make_context


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _context(url: str, clock: Clock | None = None) -> ServiceContext:
    return make_context(url, clock, sqlite_synchronous="OFF")


def test_expiry_sweep_skips_deleted_customers(database_factory: Any) -> None:
    """`drawdown expire` stopped for good at a deleted customer with a due block (404)."""
    clock = Clock()
    ctx = _context(database_factory("sqlite"), clock)
    gone = customers.create_customer({"name": "Gone", "email": "g@example.com"}).run(ctx)
    kept = customers.create_customer({"name": "Kept", "email": "k@example.com"}).run(ctx)
    expiry = (clock.now + timedelta(days=1)).isoformat()
    for row in (gone, kept):
        ref = CustomerRef(id=row.id)
        fields = entry_request(
            {"entry_type": "increment", "amount": Decimal(5), "expiry_date": expiry}
        )
        entries.create_entry(ref, fields).run(ctx)
    customers.delete_customer(CustomerRef(id=gone.id)).run(ctx)
    clock.now += timedelta(days=2)
    assert reads.sweep_expiries(ctx) == 1
    assert reads.sweep_expiries(ctx) == 0


def test_invoice_numbers_come_from_a_sequence_that_no_transaction_waits_on(
    database_factory: Any,
) -> None:
    """The counter row serialized every invoicing write on PostgreSQL; a sequence does not:
    two open transactions each draw a number at once, and the numbers differ."""
    engine = _context(database_factory("postgres")).db.raw_engine()
    with engine.connect() as first_conn, engine.connect() as second_conn:
        first, second = Tx(first_conn), Tx(second_conn)
        numbers = [next_number(first), next_number(second), next_number(first)]
        assert len(set(numbers)) == 3 and numbers == sorted(numbers)
        first_conn.rollback()
        second_conn.rollback()
    engine.dispose()
