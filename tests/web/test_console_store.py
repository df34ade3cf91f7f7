"""The console's own SQL (customer search, cached balances, the session secret) on both
SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conftest import BACKENDS
from drawdown.services.console import session_secret
from drawdown.services.context import ServiceContext
from drawdown.services.credits.entries import create_entry
from drawdown.services.customers import create_customer
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store import console as store
from drawdown.store import ledger_tables as ledger_store
from support.contexts import make_context


@pytest.fixture(params=BACKENDS)
def ctx(request: pytest.FixtureRequest, database_factory: Any) -> Any:
    ctx = make_context(database_factory(request.param))
    yield ctx
    ctx.db.close()


def test_search_matches_name_email_or_external_id_literally(ctx: ServiceContext) -> None:
    people = [("Ada", "ada@example.com", "cus_1"), ("Grace", "g@example.com", None),
              ("Percent 50%", "p@example.com", "x_y")]  # fmt: skip
    for name, email, external in people:
        create_customer({"name": name, "email": email, "external_customer_id": external}).run(ctx)

    def names(text: str) -> list[str]:
        with ctx.db.read() as tx:
            return sorted(r.name for r in store.search_customers(tx, text, 0, 10))

    assert names("") == ["Ada", "Grace", "Percent 50%"]
    assert names("ADA") == ["Ada"]
    assert names("g@ex") == ["Grace"]
    assert names("cus_") == ["Ada"]
    assert names("50%") == ["Percent 50%"]  # % is a character here, not a wildcard
    assert names("x_y") == ["Percent 50%"]
    assert names("a_a") == []


def test_balances_per_currency_follow_the_ledger(ctx: ServiceContext) -> None:
    customer = create_customer({"name": "B", "email": "b@example.com"}).run(ctx)
    ref = CustomerRef(id=customer.id)
    create_entry(ref, entry_request({"entry_type": "increment", "amount": Decimal("10.5")})).run(
        ctx
    )
    create_entry(ref, entry_request({"entry_type": "decrement", "amount": Decimal("0.5")})).run(ctx)
    gems = entry_request({"entry_type": "increment", "amount": Decimal(3), "currency": "gems"})
    create_entry(ref, gems).run(ctx)
    with ctx.db.read() as tx:
        balances = ledger_store.balances(tx, [customer.id, "nobody"])
    assert balances == {
        customer.id: [("credits", Decimal(10)), ("gems", Decimal(3))],
        "nobody": [],
    }


def test_the_session_secret_is_made_once_and_kept(ctx: ServiceContext) -> None:
    first = session_secret(ctx)
    assert len(first) >= 48
    assert session_secret(ctx) == first
