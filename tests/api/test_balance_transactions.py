"""The customer's cash balance (`customers.balance_transactions`, issue 19): money, not
credits, with its own append-only chain, shown as `Customer.balance` everywhere."""

from __future__ import annotations

from datetime import timedelta

import orb
import pytest
from rules_helpers import customer, raw_rejected, rejected

from conftest import Server


def test_transactions_chain_and_move_the_customer_balance(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    moves = strict.customers.balance_transactions
    first = moves.create(c.id, amount="12.50", type="increment", description="SLA credit")
    second = moves.create(c.id, amount="20", type="decrement")
    assert (first.action, first.type, first.amount, first.description) == (
        "manual_adjustment", "increment", "12.50", "SLA credit",
    )  # fmt: skip
    assert (first.starting_balance, first.ending_balance) == ("0.00", "12.50")
    assert (second.amount, second.starting_balance, second.ending_balance) == (
        "20.00", "12.50", "-7.50",
    )  # fmt: skip
    assert (second.description, second.invoice, second.credit_note) == (None, None, None)
    assert strict.customers.fetch(c.id).balance == "-7.50"
    assert strict.customers.fetch_by_external_id(c.external_customer_id).balance == "-7.50"
    assert strict.customers.update(c.id, metadata={"k": "v"}).balance == "-7.50"
    listed = {x.id: x.balance for x in strict.customers.list(created_at_gte=c.created_at)}
    assert listed[c.id] == "-7.50"
    assert [m.id for m in moves.list(c.id)] == [second.id, first.id]
    assert customer(strict).balance == "0.00"  # no currency, no transactions


def test_balance_follows_the_currency_minor_unit(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    yen = customer(strict, currency="JPY")
    made = strict.customers.balance_transactions.create(yen.id, amount="500", type="increment")
    assert (made.amount, made.ending_balance) == ("500.00", "500.00")
    body = rejected(
        server, orb.BadRequestError, "400-request-validation-errors",
        strict.customers.balance_transactions.create, yen.id, amount="0.5", type="increment",
    )  # fmt: skip
    assert body["validation_errors"][0]["field"] == "amount"


def test_list_pages_and_filters_on_operation_time(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    moves = strict.customers.balance_transactions
    made = [moves.create(c.id, amount=str(n), type="increment") for n in range(1, 6)]
    page = moves.list(c.id, limit=2)
    assert [m.id for m in page.data] == [made[4].id, made[3].id]
    assert page.pagination_metadata.has_more is True
    assert [m.id for m in moves.list(c.id, limit=2)] == [m.id for m in reversed(made)]
    assert made[4].ending_balance == "15.00"
    since = made[2].created_at
    assert [m.id for m in moves.list(c.id, operation_time_gte=since)] == [
        m.id for m in reversed(made[2:])
    ]
    before = made[0].created_at + timedelta(microseconds=1)
    assert [m.id for m in moves.list(c.id, operation_time_lt=before)] == [made[0].id]
    assert list(moves.list(customer(strict, currency="USD").id)) == []
    raw_rejected(server, "GET", f"/customers/{c.id}/balance_transactions?cursor=nonsense", 400,
                 "400-request-validation-errors")  # fmt: skip
    raw_rejected(server, "GET", f"/customers/{c.id}/balance_transactions?operation_time[gt]=x",
                 400, "400-request-validation-errors")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0", "type": "increment"}, "amount"),
        ({"amount": "-5", "type": "increment"}, "amount"),
        ({"amount": "1.001", "type": "increment"}, "amount"),
        ({"amount": 5, "type": "increment"}, "amount"),
        ({"amount": "5", "type": "refund"}, "type"),
        ({"amount": "5"}, "type"),
        ({"type": "increment"}, "amount"),
        ({"amount": "5", "type": "increment", "description": "d" * 1001}, "description"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    server: Server, body: dict[str, object], field: str
) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    found = raw_rejected(server, "POST", f"/customers/{c.id}/balance_transactions", 400,
                         "400-request-validation-errors", json=body)  # fmt: skip
    assert found["validation_errors"][0]["field"] == field
    assert strict.customers.fetch(c.id).balance == "0.00"


def test_a_customer_needs_a_currency_and_must_exist(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict)
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        strict.customers.balance_transactions.create, c.id, amount="5", type="increment",
    )  # fmt: skip
    rejected(
        server, orb.NotFoundError, "404-resource-not-found",
        strict.customers.balance_transactions.create, "noSuchCustomer1", amount="5",
        type="increment",
    )  # fmt: skip
    with pytest.raises(orb.NotFoundError):
        strict.customers.balance_transactions.list("noSuchCustomer1")


def test_creation_is_idempotent(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    moves = strict.customers.balance_transactions
    first = moves.create(c.id, amount="3", type="increment", idempotency_key="cash-once")
    again = moves.create(c.id, amount="3", type="increment", idempotency_key="cash-once")
    assert again == first
    assert strict.customers.fetch(c.id).balance == "3.00"
