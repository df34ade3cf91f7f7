"""The console's own SQL (customer search, cached balances, the session secret) on both
SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conftest import BACKENDS
from drawdown.services.console import session_secret
from drawdown.services.context import ServiceContext
from drawdown.services.customers import CustomerRef, create_customer
from drawdown.services.ledger import create_entry
from drawdown.settings import Settings
from drawdown.store import console as store
from drawdown.store.engine import make_engine, read_transaction
from drawdown.store.migrate import upgrade


@pytest.fixture(params=BACKENDS)
def ctx(request: pytest.FixtureRequest, database_factory: Any) -> Any:
    settings = Settings(database_url=database_factory(request.param))
    engine = make_engine(settings)
    upgrade(engine)
    yield ServiceContext(engine=engine, settings=settings)
    engine.dispose()


def test_search_matches_name_email_or_external_id_literally(ctx: ServiceContext) -> None:
    people = [("Ada", "ada@example.com", "cus_1"), ("Grace", "g@example.com", None),
              ("Percent 50%", "p@example.com", "x_y")]  # fmt: skip
    for name, email, external in people:
        create_customer(ctx, {"name": name, "email": email, "external_customer_id": external})

    def names(text: str) -> list[str]:
        with read_transaction(ctx.engine) as conn:
            return sorted(r["name"] for r in store.search_customers(conn, text, 0, 10))

    assert names("") == ["Ada", "Grace", "Percent 50%"]
    assert names("ADA") == ["Ada"]
    assert names("g@ex") == ["Grace"]
    assert names("cus_") == ["Ada"]
    assert names("50%") == ["Percent 50%"]  # % is a character here, not a wildcard
    assert names("x_y") == ["Percent 50%"]
    assert names("a_a") == []


def test_balances_per_currency_follow_the_ledger(ctx: ServiceContext) -> None:
    customer = create_customer(ctx, {"name": "B", "email": "b@example.com"})
    ref = CustomerRef(id=customer["id"])
    create_entry(ctx, ref, {"entry_type": "increment", "amount": Decimal("10.5")})
    create_entry(ctx, ref, {"entry_type": "decrement", "amount": Decimal("0.5")})
    create_entry(ctx, ref, {"entry_type": "increment", "amount": Decimal(3), "currency": "gems"})
    with read_transaction(ctx.engine) as conn:
        balances = store.balances(conn, [customer["id"], "nobody"])
    assert balances == {
        customer["id"]: [("credits", Decimal(10)), ("gems", Decimal(3))],
        "nobody": [],
    }


def test_the_session_secret_is_made_once_and_kept(ctx: ServiceContext) -> None:
    first = session_secret(ctx)
    assert len(first) >= 48
    assert session_secret(ctx) == first
