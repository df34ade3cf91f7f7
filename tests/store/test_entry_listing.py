"""The ledger list's query plans answer alike: every filter, every cursor, both databases.

SQLite answers `minimum_amount` from the amount index when few entries qualify and by
scanning the list order otherwise (store/ledger_tables.py); both plans, and PostgreSQL's own
choice, must return exactly the entries a plain filter of the whole ledger returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from conftest import BACKENDS
from drawdown.services import customers
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store import ledger_tables as ledger_store
from support.contexts import make_context

AMOUNTS = ["0.5", "1", "1.25", "2", "9.99", "10", "10.01", "100", "0.000001", "12345.678"]


@pytest.fixture(scope="module", params=BACKENDS)
def ledger(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[tuple[Any, str]]:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    ctx = make_context(database_factory(request.param), lambda: clock[0])
    customer = customers.create_customer({"name": "L", "email": "l@example.com"}).run(ctx)
    ref = CustomerRef(id=customer.id)
    entries.create_entry(
        ref, entry_request({"entry_type": "increment", "amount": Decimal(10**6)})
    ).run(ctx)
    for index in range(3):
        for amount in AMOUNTS:
            clock[0] += timedelta(seconds=1 if index else 0)  # some entries share an instant
            fields = entry_request({"entry_type": "decrement", "amount": Decimal(amount)})
            entries.create_entry(ref, fields).run(ctx)
    yield ctx, customer.id
    ctx.db.close()


def _all(ctx: Any, customer_id: str, **filters: Any) -> list[tuple[int, Decimal]]:
    """Every entry of the list, fetched page by page through cursors of seven."""
    ref, found, after = CustomerRef(id=customer_id), [], None
    while True:
        query = reads.EntryQuery(filters.get("currency"), filters.get("entry_type"), None,
                                 filters.get("minimum"), [], after, 7)  # fmt: skip
        page = reads.list_entries(ctx, ref, query)
        found += [(v.entry.seq, v.entry.amount) for v in page]
        if len(page) < 7:
            return found
        last = page[-1].entry
        after = (last.created_at, last.seq, last.id)


@pytest.mark.parametrize("selective_max", [0, 4, 10_000])
@pytest.mark.parametrize("minimum", ["-1", "0", "0.000001", "1", "1.25", "10", "10.005", "1e9"])
def test_minimum_amount_plans_agree_with_a_plain_filter(
    ledger: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, selective_max: int, minimum: str
) -> None:
    ctx, customer_id = ledger
    monkeypatch.setattr(ledger_store, "SELECTIVE_MATCHES_MAX", selective_max)
    everything = _all(ctx, customer_id)
    assert [seq for seq, _ in everything] == list(range(len(everything), 0, -1))
    bound = Decimal(minimum)
    expected = [(seq, amount) for seq, amount in everything if amount >= bound]
    assert _all(ctx, customer_id, minimum=bound) == expected
    assert _all(ctx, customer_id, minimum=bound, entry_type="decrement") == [
        e for e in expected if e[1] != Decimal(10**6)
    ]
    assert _all(ctx, customer_id, minimum=bound, currency="credits") == expected


def test_amount_keys_sort_like_the_numbers() -> None:
    numbers = sorted(Decimal(a) for a in [*AMOUNTS, "0", "99999999999999999999", "1.5", "1.05"])
    keys = [ledger_store.amount_key(n) for n in numbers]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
