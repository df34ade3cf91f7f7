"""docs/rules.md §4 on ledgers and blocks, checked through the SDK: R-CUR, R-LIST, R-SEQ,
R-BAL, R-TIME-1, R-PEND-4 and R-TZ-1 (one test per rule, named for it)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import orb
from rules_helpers import customer, decrement, increment, purchase, rejected

from conftest import Server


def entry(client: orb.Orb, customer_id: str, **body: object) -> object:
    return client.customers.credits.ledger.create_entry(customer_id, **body)


def balances(client: orb.Orb, customer_id: str, **query: object) -> list[tuple[str, float]]:
    return [(b.id, b.balance) for b in client.customers.credits.list(customer_id, **query)]


# --- R-CUR ---------------------------------------------------------------------------------


def test_R_CUR_1_absent_currency_is_credits_or_the_blocks_own_ledger(client: orb.Orb) -> None:
    c = customer(client)
    first = increment(client, c.id, 10)
    second = increment(client, c.id, 5, currency=None)
    tokens = increment(client, c.id, 20, currency="tokens")
    assert (first.currency, second.currency, tokens.currency) == ("credits", "credits", "tokens")
    used = decrement(client, c.id, 3)
    assert (used.currency, used.credit_block.id, used.ending_balance) == (
        "credits",
        first.credit_block.id,
        12,
    )
    block_id = tokens.credit_block.id
    void = entry(client, c.id, entry_type="void", block_id=block_id, amount=4)
    amend = entry(client, c.id, entry_type="amendment", block_id=block_id, amount=2)
    change = entry(
        client,
        c.id,
        entry_type="expiration_change",
        block_id=block_id,
        amount=8,
        target_expiry_date="2099-01-01",
    )
    assert [
        (e.currency, e.ledger_sequence_number, e.ending_balance) for e in (void, amend, change)
    ] == [
        ("tokens", 2, 16),
        ("tokens", 3, 18),
        ("tokens", 4, 18),
    ]
    assert [b for _, b in balances(client, c.id)] == [7, 5]
    assert [b for _, b in balances(client, c.id, currency="tokens")] == [8, 10]


def test_R_CUR_2_real_currency_must_match_the_customers(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    usd = increment(client, c.id, 7, currency="usd")
    assert (usd.currency, usd.ledger_sequence_number) == ("USD", 1)
    assert (
        client.customers.credits.ledger.create_entry_by_external_id(
            c.external_customer_id, entry_type="decrement", amount=2, currency="Usd"
        ).ending_balance
        == 5
    )
    ledger = client.customers.credits.ledger
    for kwargs in (
        {"entry_type": "increment", "amount": 1},
        {"entry_type": "decrement", "amount": 1},
    ):
        rejected(
            server, orb.BadRequestError, "400-constraint-violation",
            ledger.create_entry, c.id, currency="eur", **kwargs,
        )  # fmt: skip
    no_currency = customer(client)
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        ledger.create_entry, no_currency.id, entry_type="increment", amount=1, currency="USD",
    )  # fmt: skip
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        client.customers.credits.top_ups.create, c.id, currency="EUR", threshold="1",
        amount="10", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    # Listing with a mismatching real currency is an empty page, not an error.
    assert client.customers.credits.list(c.id, currency="EUR").data == []
    assert ledger.list(c.id, currency="EUR").data == []
    assert [e.id for e in ledger.list(c.id, currency="usd", entry_type="increment")] == [usd.id]


def test_R_CUR_3_custom_units_are_case_sensitive_ledgers(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    lower = increment(client, c.id, 3, currency="tokens")
    upper = increment(client, c.id, 4, currency="Tokens")
    assert (lower.ledger_sequence_number, upper.ledger_sequence_number) == (1, 1)
    assert (lower.ending_balance, upper.ending_balance) == (3, 4)
    assert [b for _, b in balances(client, c.id, currency="Tokens")] == [4]
    longest = "u" * 64
    assert increment(client, c.id, 1, currency=longest).currency == longest
    for bad in ("u" * 65, ""):
        body = rejected(
            server, orb.BadRequestError, "400-request-validation-errors",
            increment, client, c.id, 1, currency=bad,
        )  # fmt: skip
        assert body["validation_errors"][0]["field"] == "currency"


def test_R_CUR_4_block_of_other_ledger_is_constraint_violation(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    tokens = increment(client, c.id, 10, currency="tokens")
    block_id = tokens.credit_block.id
    for body in (
        {"entry_type": "void", "amount": 1},
        {"entry_type": "amendment", "amount": 1},
        {"entry_type": "expiration_change", "amount": 1, "target_expiry_date": "2099-01-01"},
    ):
        rejected(
            server, orb.BadRequestError, "400-constraint-violation",
            entry, client, c.id, block_id=block_id, currency="credits", **body,
        )  # fmt: skip
    other = customer(client)
    increment(client, other.id, 10, currency="tokens")
    rejected(
        server, orb.NotFoundError, "404-resource-not-found",
        entry, client, other.id, entry_type="void", block_id=block_id, amount=1,
    )  # fmt: skip
    doomed = increment(client, c.id, 5, currency="tokens").credit_block.id
    client.credit_blocks.delete(doomed)
    rejected(
        server, orb.NotFoundError, "404-resource-not-found",
        entry, client, c.id, entry_type="amendment", block_id=doomed, amount=1,
    )  # fmt: skip


def test_R_CUR_5_invoices_use_the_customers_real_currency(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="EUR")
    bought = increment(
        client, c.id, 40, currency="tokens", per_unit_cost_basis="0.25",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    [invoice] = bought.created_invoices
    assert (invoice.currency, invoice.total, bought.currency) == ("EUR", "10.00", "tokens")
    assert invoice.line_items[0].price.currency == "EUR"
    no_currency = customer(client)
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        purchase, client, no_currency.id, 1, "1",
    )  # fmt: skip
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        client.customers.credits.top_ups.create, no_currency.id, currency="credits",
        threshold="1", amount="10", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip


# --- R-LIST --------------------------------------------------------------------------------


def test_R_LIST_1_default_block_list_hides_zero_balances_keeps_negatives(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    now = datetime.now(UTC)
    a = increment(client, c.id, 10, expiry_date="2099-01-01").credit_block.id
    decrement(client, c.id, 15)  # A is the only drawable block: it goes to -5
    d = increment(client, c.id, 6, expiry_date="2098-01-01").credit_block.id
    decrement(client, c.id, 6)  # soonest-expiring D is depleted to 0
    e = increment(
        client, c.id, 9, effective_date=(now - timedelta(days=3)).isoformat(),
        expiry_date=(now - timedelta(days=1)).isoformat(),
    ).credit_block.id  # fmt: skip
    b = increment(client, c.id, 20).credit_block.id
    v = increment(client, c.id, 4).credit_block.id
    entry(client, c.id, entry_type="void", block_id=v, amount=4)
    f = increment(client, c.id, 7, effective_date=(now + timedelta(days=2)).isoformat())
    p = purchase(client, c.id, 8, "0.10", require_successful_payment=True).credit_block.id
    listed = client.customers.credits.list(c.id)
    assert [(x.id, x.balance) for x in listed] == [
        (a, -5), (b, 20), (f.credit_block.id, 7), (p, 8),
    ]  # fmt: skip
    assert [x.status for x in listed] == ["active", "active", "active", "pending_payment"]
    every = balances(client, c.id, include_all_blocks=True)
    assert every == [
        (e, 0), (d, 0), (a, -5), (b, 20), (v, 0), (f.credit_block.id, 7), (p, 8),
    ]  # fmt: skip


def test_R_LIST_3_minimum_amount_is_inclusive_and_validated(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    increment(client, c.id, 100)
    for amount in (2.49, 2.5, 3):
        decrement(client, c.id, amount)
    amounts = [e.amount for e in client.customers.credits.ledger.list(c.id, minimum_amount="2.5")]
    assert amounts == [3, 2.5, 100]
    body = rejected(
        server, orb.BadRequestError, "400-request-validation-errors",
        client.customers.credits.ledger.list, c.id, minimum_amount="lots",
    )  # fmt: skip
    assert body["validation_errors"][0]["field"] == "minimum_amount"


def test_R_LIST_4_filters_combine_with_and_and_block_paging_is_keyset(client: orb.Orb) -> None:
    c = customer(client)
    ledger = client.customers.credits.ledger
    increment(client, c.id, 1000)
    early = decrement(client, c.id, 9)
    decrement(client, c.id, 1)
    late = decrement(client, c.id, 7)
    increment(client, c.id, 50)
    hits = ledger.list(
        c.id, entry_type="decrement", minimum_amount="5", created_at_gt=early.created_at
    )
    assert [e.id for e in hits] == [late.id]
    blocks = [
        increment(client, c.id, 1, expiry_date=f"209{i}-01-01").credit_block.id for i in range(5)
    ]
    first = client.customers.credits.list(c.id, limit=2)
    assert [b.id for b in first.data] == blocks[:2]
    increment(client, c.id, 1, expiry_date="2080-01-01")  # sorts before everything listed
    rest = first.get_next_page()
    assert [b.id for b in rest.data] == blocks[2:4]


# --- R-SEQ / R-BAL -------------------------------------------------------------------------


def test_R_SEQ_1_each_currency_has_its_own_sequence(client: orb.Orb) -> None:
    c = customer(client)
    written = [
        increment(client, c.id, 10),
        increment(client, c.id, 10, currency="tokens"),
        decrement(client, c.id, 1),
        decrement(client, c.id, 2, currency="tokens"),
        increment(client, c.id, 5),
    ]
    assert [(e.currency, e.ledger_sequence_number) for e in written] == [
        ("credits", 1), ("tokens", 1), ("credits", 2), ("tokens", 2), ("credits", 3),
    ]  # fmt: skip
    ledger = client.customers.credits.ledger
    assert [e.id for e in ledger.list(c.id)] == [e.id for e in reversed(written)]
    assert [e.ledger_sequence_number for e in ledger.list(c.id, currency="credits")] == [3, 2, 1]
    assert [e.ledger_sequence_number for e in ledger.list(c.id, currency="tokens")] == [2, 1]


def test_R_BAL_4_and_R_BAL_5_blocks_sum_to_the_last_ending_balance(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    now = datetime.now(UTC)
    soon = increment(client, c.id, 30, expiry_date="2090-01-01", per_unit_cost_basis="0")
    keep = increment(client, c.id, 50)
    increment(
        client, c.id, 12, effective_date=(now - timedelta(days=9)).isoformat(),
        expiry_date=(now - timedelta(days=2)).isoformat(),
    )  # fmt: skip
    increment(client, c.id, 25, effective_date=(now + timedelta(days=4)).isoformat())
    purchase(client, c.id, 15, "0.20", require_successful_payment=True)
    decrement(client, c.id, 45)
    entry(client, c.id, entry_type="void", block_id=soon.credit_block.id, amount=30)
    entry(client, c.id, entry_type="amendment", block_id=keep.credit_block.id, amount=5)
    entry(
        client, c.id, entry_type="expiration_change", block_id=keep.credit_block.id, amount=10,
        target_expiry_date="2095-06-01",
    )  # fmt: skip
    decrement(client, c.id, 100)
    last = client.customers.credits.ledger.list(c.id, currency="credits", limit=1).data[0]
    default_sum = sum(b for _, b in balances(client, c.id, limit=2))
    every_sum = sum(b for _, b in balances(client, c.id, limit=3, include_all_blocks=True))
    # 30+50+12+25+15 -12 (expiry) -45 -30 (void) +5 -100 = -50
    assert last.ending_balance == default_sum == every_sum == -50


# --- time-based processing -----------------------------------------------------------------


def test_R_TIME_1_and_R_PEND_4_status_and_expiry_follow_the_clock_without_writes(
    client: orb.Orb,
) -> None:
    """One short sleep covers R-TIME-1 (with the top-up it triggers), R-LIST-2, R-PEND-4 and
    R-NEG-3 on a second ledger."""
    c = customer(client, currency="USD")
    ledger = client.customers.credits.ledger
    start = datetime.fromtimestamp(math.ceil(time.time()), UTC)
    soon = start + timedelta(seconds=2)
    expiring = increment(client, c.id, 10, expiry_date=soon.isoformat())
    later = increment(client, c.id, 4, effective_date=soon.isoformat())
    negative = increment(client, c.id, 5, currency="tokens", expiry_date=soon.isoformat())
    decrement(client, c.id, 8, currency="tokens")
    client.customers.credits.top_ups.create(
        c.id, currency="credits", threshold="5", amount="1", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    assert [e.id for e in ledger.list(c.id, entry_status="pending")] == [later.id]
    assert [b for _, b in balances(client, c.id)] == [10, 4]
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.3)
    assert ledger.list(c.id, entry_status="pending").data == []
    committed = ledger.list(c.id, currency="credits", entry_status="committed")
    assert [(e.entry_type, e.entry_status, e.amount, e.ending_balance) for e in committed] == [
        ("increment", "committed", 1, 5),  # the top-up: D fell to 4 <= 5 at the expiry
        ("credit_block_expiry", "committed", 10, 4),
        ("increment", "committed", 4, 14),
        ("increment", "committed", 10, 10),
    ]
    assert committed.data[0].description == "Top-up"
    assert committed.data[1].credit_block.id == expiring.credit_block.id
    assert committed.data[1].created_at == soon
    assert balances(client, c.id) == [
        (later.credit_block.id, 4),
        (committed.data[0].credit_block.id, 1),
    ]
    assert balances(client, c.id, currency="tokens") == [(negative.credit_block.id, -3)]
    assert [e.entry_type for e in ledger.list(c.id, currency="tokens")] == [
        "decrement",
        "increment",
    ]


# --- R-TZ-1 --------------------------------------------------------------------------------


def test_R_TZ_1_date_only_values_are_midnight_in_the_customers_timezone(client: orb.Orb) -> None:
    c = customer(client, timezone="Asia/Tokyo", currency="USD")
    bought = increment(
        client, c.id, 10, effective_date="2030-01-05", expiry_date="2030-02-01",
        per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "custom_due_date": "2030-01-20"},
    )  # fmt: skip
    block = client.credit_blocks.retrieve(bought.credit_block.id)
    assert block.effective_date == datetime(2030, 1, 4, 15, tzinfo=UTC)
    assert block.expiry_date == datetime(2030, 1, 31, 15, tzinfo=UTC)
    [invoice] = bought.created_invoices
    assert invoice.invoice_date == datetime(2030, 1, 4, 15, tzinfo=UTC)
    assert invoice.due_date == datetime(2030, 1, 19, 15, tzinfo=UTC)
    paid = client.invoices.mark_paid(invoice.id, payment_received_date="2030-01-07")
    assert paid.payment_received_at == datetime(2030, 1, 6, 15, tzinfo=UTC)
    hit = client.customers.credits.list(c.id, effective_date_gte="2030-01-05")
    assert [b.id for b in hit] == [block.id]
    assert client.customers.credits.list(c.id, effective_date_gt="2030-01-05").data == []
