"""The credit ledger through the SDK: every entry type, both id variants, filters, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orb
import pytest

from conftest import Server, unique


def new_customer(client: orb.Orb, **kwargs) -> orb.types.Customer:
    return client.customers.create(
        name="Ledger", email="l@example.com", external_customer_id=unique(), **kwargs
    )


def test_worked_example_decrement_spans_blocks_in_drawdown_order(client: orb.Orb) -> None:
    """The worked example of docs/rules.md §4.7 (R-DED-2, R-DED-3, R-DED-4, R-DED-5)."""
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    expiry = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    a = ledger.create_entry(
        c.id, entry_type="increment", amount=30, expiry_date=expiry, per_unit_cost_basis="0.00"
    )
    b = ledger.create_entry(
        c.id, entry_type="increment", amount=50, expiry_date=expiry, per_unit_cost_basis="0.10"
    )
    cc = ledger.create_entry(c.id, entry_type="increment", amount=100, per_unit_cost_basis="0.10")
    last = ledger.create_entry(c.id, entry_type="decrement", amount=100, description="usage")
    assert last.entry_type == "decrement"
    assert (last.credit_block.id, last.amount, last.starting_balance, last.ending_balance) == (
        cc.credit_block.id,
        20,
        100,
        80,
    )
    entries = list(ledger.list(c.id, entry_type="decrement"))
    assert [(e.credit_block.id, e.amount, e.ledger_sequence_number) for e in entries] == [
        (cc.credit_block.id, 20, 6),
        (b.credit_block.id, 50, 5),
        (a.credit_block.id, 30, 4),
    ]
    deficit = ledger.create_entry(c.id, entry_type="decrement", amount=200)
    assert (deficit.credit_block.id, deficit.amount, deficit.ending_balance) == (
        cc.credit_block.id,
        200,
        -120,
    )
    balances = {blk.id: blk.balance for blk in client.customers.credits.list(c.id)}
    assert balances == {cc.credit_block.id: -120}


def test_increment_entry_has_every_field(server: Server) -> None:
    strict = orb.Orb(
        api_key=server.api_key,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    )
    c = new_customer(strict)
    entry = strict.customers.credits.ledger.create_entry(
        c.id,
        entry_type="increment",
        amount=12.5,
        per_unit_cost_basis="0.20",
        description="trial",
        metadata={"k": "v"},
        filters=[{"field": "item_id", "operator": "includes", "values": ["item-1"]}],
    )
    assert entry.entry_type == "increment" and entry.entry_status == "committed"
    assert (entry.amount, entry.starting_balance, entry.ending_balance) == (12.5, 0, 12.5)
    assert entry.ledger_sequence_number == 1
    assert entry.currency == "credits"
    assert entry.credit_block.per_unit_cost_basis == "0.20"
    assert entry.credit_block.filters[0].values == ["item-1"]
    assert entry.customer.id == c.id and entry.created_invoices is None
    assert entry.metadata == {"k": "v"}
    listed = list(strict.customers.credits.ledger.list(c.id))
    assert [e.id for e in listed] == [entry.id]


def test_exact_decimals_survive_the_round_trip(client: orb.Orb) -> None:
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    for _ in range(3):
        ledger.create_entry(c.id, entry_type="increment", amount=0.1)
    entry = ledger.create_entry(c.id, entry_type="decrement", amount=0.3)
    assert entry.ending_balance == 0
    raw = ledger.with_raw_response.list(c.id, limit=1).http_response.text
    assert '"ending_balance":0,' in raw or '"ending_balance":0}' in raw


def test_future_effective_increment_is_pending_and_not_drawable(client: orb.Orb) -> None:
    """R-PEND-1, R-PEND-2, R-DED-1."""
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    pending = ledger.create_entry(c.id, entry_type="increment", amount=40, effective_date=future)
    assert pending.entry_status == "pending"
    now_block = ledger.create_entry(c.id, entry_type="increment", amount=10)
    d = ledger.create_entry(c.id, entry_type="decrement", amount=15)
    assert d.credit_block.id == now_block.credit_block.id and d.ending_balance == 35
    assert [e.id for e in ledger.list(c.id, entry_status="pending")] == [pending.id]


def test_past_expiry_increment_expires_immediately(client: orb.Orb) -> None:
    """R-INC-4, R-EXPY-1."""
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    past = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    older = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    inc = ledger.create_entry(
        c.id, entry_type="increment", amount=25, effective_date=older, expiry_date=past
    )
    assert inc.ending_balance == 25
    entries = list(ledger.list(c.id))
    assert [e.entry_type for e in entries] == ["credit_block_expiry", "increment"]
    assert entries[0].amount == 25 and entries[0].ending_balance == 0
    assert list(client.customers.credits.list(c.id)) == []
    all_blocks = list(client.customers.credits.list(c.id, include_all_blocks=True))
    assert [(b.id, b.balance) for b in all_blocks] == [(inc.credit_block.id, 0)]


def test_void_with_used_credits_writes_void_initiated(client: orb.Orb) -> None:
    """R-VOID-2, R-VOID-3."""
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    inc = ledger.create_entry(c.id, entry_type="increment", amount=100)
    ledger.create_entry(c.id, entry_type="decrement", amount=70)
    void = ledger.create_entry(
        c.id, entry_type="void", block_id=inc.credit_block.id, amount=100, void_reason="refund"
    )
    assert (void.entry_type, void.void_amount, void.void_reason, void.ending_balance) == (
        "void",
        100,
        "refund",
        -70,
    )
    initiated = list(ledger.list(c.id, entry_type="void_initiated"))
    assert [(e.amount, e.void_amount) for e in initiated] == [(30, 100)]


def test_amendment_and_expiration_change(client: orb.Orb) -> None:
    """R-AMD-1, R-EXP-1, R-EXP-5."""
    c = new_customer(client, timezone="America/Los_Angeles")
    ledger = client.customers.credits.ledger
    inc = ledger.create_entry(c.id, entry_type="increment", amount=100)
    ledger.create_entry(c.id, entry_type="decrement", amount=30)
    amend = ledger.create_entry(
        c.id, entry_type="amendment", block_id=inc.credit_block.id, amount=10
    )
    assert (amend.amount, amend.ending_balance) == (10, 80)
    target = (datetime.now(UTC) + timedelta(days=60)).date()
    change = ledger.create_entry(
        c.id,
        entry_type="expiration_change",
        block_id=inc.credit_block.id,
        amount=20,
        target_expiry_date=target,
    )
    assert change.entry_type == "expiration_change"
    assert change.starting_balance == change.ending_balance == 80
    assert change.new_block_expiry_date == datetime(
        target.year, target.month, target.day, 8, tzinfo=UTC
    )  # LA midnight in winter
    blocks = list(client.customers.credits.list(c.id))
    assert sorted(b.balance for b in blocks) == [20, 60]


def test_external_id_variants(client: orb.Orb) -> None:
    c = new_customer(client)
    ext = c.external_customer_id
    ledger = client.customers.credits.ledger
    inc = ledger.create_entry_by_external_id(ext, entry_type="increment", amount=5)
    assert [e.id for e in ledger.list_by_external_id(ext)] == [inc.id]
    blocks = client.customers.credits.list_by_external_id(ext)
    assert [b.id for b in blocks] == [inc.credit_block.id]


def test_custom_units_and_real_currency_ledgers(server: Server, client: orb.Orb) -> None:
    """R-CUR-1..3."""
    c = new_customer(client, currency="USD")
    ledger = client.customers.credits.ledger
    ledger.create_entry(c.id, entry_type="increment", amount=5, currency="tokens")
    usd = ledger.create_entry(c.id, entry_type="increment", amount=7, currency="usd")
    assert usd.currency == "USD" and usd.ledger_sequence_number == 1
    assert [b.balance for b in client.customers.credits.list(c.id, currency="tokens")] == [5]
    assert [b.balance for b in client.customers.credits.list(c.id, currency="USD")] == [7]
    assert list(client.customers.credits.list(c.id)) == []
    before = server.snapshot()
    with pytest.raises(orb.BadRequestError) as info:
        ledger.create_entry(c.id, entry_type="increment", amount=5, currency="EUR")
    assert info.value.body["type"].endswith("#400-constraint-violation")
    assert server.snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"entry_type": "increment"}, "amount"),
        ({"entry_type": "increment", "amount": 0}, "amount"),
        ({"entry_type": "increment", "amount": -5}, "amount"),
        ({"entry_type": "increment", "amount": "abc"}, "amount"),
        ({"entry_type": "increment", "amount": True}, "amount"),
        (
            {
                "entry_type": "increment",
                "amount": 1,
                "expiry_date": "2020-01-01",
                "effective_date": "2020-02-01",
            },
            "expiry_date",
        ),
        ({"entry_type": "increment", "amount": 1, "expiry_date": "tomorrow"}, "expiry_date"),
        (
            {"entry_type": "decrement", "amount": 1, "per_unit_cost_basis": "1"},
            "per_unit_cost_basis",
        ),
        ({"entry_type": "decrement", "amount": 1, "expiry_date": "2030-01-01"}, "expiry_date"),
        ({"entry_type": "void", "amount": 1}, "block_id"),
        ({"entry_type": "refund", "amount": 1}, "entry_type"),
        (
            {
                "entry_type": "increment",
                "amount": 1,
                "per_unit_cost_basis": "1",
                "invoice_settings": {"auto_collection": False},
            },
            "invoice_settings.net_terms",
        ),
    ],
)
def test_invalid_entry_requests_are_400_and_write_nothing(
    server: Server, client: orb.Orb, body: dict, field: str
) -> None:
    c = new_customer(client, currency="USD")
    client.customers.credits.ledger.create_entry(c.id, entry_type="increment", amount=1)
    before = server.snapshot()
    with server.http() as http:
        response = http.post(f"/customers/{c.id}/credits/ledger_entry", json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"].endswith("#400-request-validation-errors"), payload
    assert payload["validation_errors"][0]["field"] == field
    assert server.snapshot() == before


def test_constraint_violations_write_nothing(server: Server, client: orb.Orb) -> None:
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    inc = ledger.create_entry(c.id, entry_type="increment", amount=10)
    before = server.snapshot()
    cases = [
        {"entry_type": "void", "block_id": inc.credit_block.id, "amount": 11},
        {"entry_type": "amendment", "block_id": inc.credit_block.id, "amount": 1},
        {
            "entry_type": "expiration_change",
            "block_id": inc.credit_block.id,
            "amount": 11,
            "target_expiry_date": "2099-01-01",
        },
    ]
    for body in cases:
        with pytest.raises(orb.BadRequestError) as info:
            ledger.create_entry(c.id, **body)
        assert info.value.body["type"].endswith("#400-constraint-violation"), body
    with pytest.raises(orb.NotFoundError):
        ledger.create_entry(c.id, entry_type="void", block_id="noSuchBlock12345", amount=1)
    assert server.snapshot() == before


def test_ledger_pagination_over_55_entries_and_filters(client: orb.Orb) -> None:
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    ledger.create_entry(c.id, entry_type="increment", amount=1000)
    for i in range(54):
        ledger.create_entry(c.id, entry_type="decrement", amount=i + 1)
    seqs = [e.ledger_sequence_number for e in ledger.list(c.id, limit=7)]
    assert seqs == list(range(55, 0, -1))
    big = [e.amount for e in ledger.list(c.id, minimum_amount="50")]
    assert big == [54, 53, 52, 51, 50, 1000]
    assert len(list(ledger.list(c.id, entry_type="increment"))) == 1
    page = ledger.list(c.id, limit=5)
    newer = ledger.create_entry(c.id, entry_type="decrement", amount=1)
    second = page.get_next_page()
    assert [e.ledger_sequence_number for e in second.data] == [50, 49, 48, 47, 46]
    assert newer.ledger_sequence_number == 56
    first = ledger.list(c.id, limit=1).data[0]
    assert [e.id for e in ledger.list(c.id, created_at_gte=first.created_at)] == [first.id]


def test_block_fetch_update_metadata_and_delete_replays(server: Server, client: orb.Orb) -> None:
    """E20, E21 (R-META-2), E22 (R-DEL-1..3)."""
    c = new_customer(client)
    ledger = client.customers.credits.ledger
    first = ledger.create_entry(c.id, entry_type="increment", amount=50, metadata={"a": "1"})
    second = ledger.create_entry(c.id, entry_type="increment", amount=100)
    ledger.create_entry(c.id, entry_type="decrement", amount=80)
    block = client.credit_blocks.update(first.credit_block.id, metadata={"b": "2"})
    assert block.metadata == {"a": "1", "b": "2"}
    listed_inc = list(ledger.list(c.id, entry_type="increment"))
    assert listed_inc[-1].metadata == {"a": "1", "b": "2"}
    client.credit_blocks.delete(first.credit_block.id)
    with pytest.raises(orb.NotFoundError):
        client.credit_blocks.retrieve(first.credit_block.id)
    entries = list(ledger.list(c.id))
    assert [
        (e.entry_type, e.ledger_sequence_number, e.amount, e.ending_balance) for e in entries
    ] == [("decrement", 2, 80, 20), ("increment", 1, 100, 100)]
    assert entries[1].id == second.id
    assert client.credit_blocks.retrieve(second.credit_block.id).balance == 20
