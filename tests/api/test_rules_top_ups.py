"""Top-ups (R-TOP-1..8, R-TZ-4) and block deletion through the API (R-DEL-1, R-DEL-4, R-DEL-5)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orb
from rules_helpers import customer, decrement, increment, purchase, rejected

from conftest import Server


def top_up(client: orb.Orb, customer_id: str, **overrides: Any) -> Any:
    body: dict[str, Any] = {
        "currency": "credits",
        "threshold": "10",
        "amount": "100",
        "per_unit_cost_basis": "0.05",
        "invoice_settings": {"auto_collection": False, "net_terms": 0},
    }
    return client.customers.credits.top_ups.create(customer_id, **{**body, **overrides})


def top_up_entries(client: orb.Orb, customer_id: str, currency: str = "credits") -> list[Any]:
    entries = client.customers.credits.ledger.list(
        customer_id, entry_type="increment", currency=currency
    )
    return [e for e in entries if e.description == "Top-up"]


def test_R_TOP_1_one_active_top_up_per_currency(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    increment(client, c.id, 500)
    increment(client, c.id, 500, currency="tokens")
    credits_1 = top_up(client, c.id)
    tokens = top_up(client, c.id, currency="tokens")
    credits_2 = top_up(client, c.id, threshold="20")
    top_ups = client.customers.credits.top_ups
    assert [t.id for t in top_ups.list(c.id)] == [credits_2.id, tokens.id]
    assert [(t.currency, t.threshold) for t in top_ups.list(c.id)] == [
        ("credits", "20"),
        ("tokens", "10"),
    ]
    rejected(
        server, orb.NotFoundError, "404-resource-not-found",
        top_ups.delete, credits_1.id, customer_id=c.id,
    )  # fmt: skip


def test_R_TOP_2_not_armed_before_active_from_or_while_payment_pending(client: orb.Orb) -> None:
    later = customer(client, currency="USD")
    top_up(client, later.id, active_from=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    decrement(client, later.id, 1)
    assert top_up_entries(client, later.id) == []
    gated = customer(client, currency="USD")
    settings = {"auto_collection": False, "net_terms": 0, "require_successful_payment": True}
    top_up(client, gated.id, amount="5", invoice_settings=settings)
    [first] = top_up_entries(client, gated.id)
    assert client.credit_blocks.retrieve(first.credit_block.id).status == "pending_payment"
    decrement(client, gated.id, 1)  # D = -1 but the top-up waits for payment
    assert len(top_up_entries(client, gated.id)) == 1
    client.invoices.mark_paid(first.created_invoices[0].id, payment_received_date="2030-01-01")
    assert len(top_up_entries(client, gated.id)) == 2  # paid: D = 4 <= 10, fires again


def test_R_TOP_3_evaluated_after_void_and_immediate_expiry_once_per_point(
    client: orb.Orb,
) -> None:
    c = customer(client, currency="USD")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    big = increment(client, c.id, 200, effective_date=yesterday).credit_block.id
    top_up(client, c.id, threshold="150", amount="5")
    assert top_up_entries(client, c.id) == []
    ledger = client.customers.credits.ledger
    ledger.create_entry(c.id, entry_type="void", block_id=big, amount=60)  # D = 140
    assert len(top_up_entries(client, c.id)) == 1  # D = 145: still low, but one per point
    increment(client, c.id, 50)  # increments are not evaluation points
    assert len(top_up_entries(client, c.id)) == 1
    today = datetime.now(UTC).date().isoformat()
    ledger.create_entry(
        c.id, entry_type="expiration_change", block_id=big, amount=100, target_expiry_date=today
    )
    assert len(top_up_entries(client, c.id)) == 2


def test_R_TOP_4_and_R_TZ_4_top_up_increment_fields(client: orb.Orb) -> None:
    zone = ZoneInfo("America/New_York")
    c = customer(client, currency="USD", timezone="America/New_York")
    created = top_up(
        client, c.id, currency="tokens", amount="40", per_unit_cost_basis="0.25",
        invoice_settings={"auto_collection": True, "net_terms": 3, "memo": "auto"},
        expires_after=1, expires_after_unit="month",
    )  # fmt: skip
    assert (created.expires_after, created.expires_after_unit) == (1, "month")
    assert created.invoice_settings.model_dump() == {
        "auto_collection": True,
        "net_terms": 3,
        "memo": "auto",
        "require_successful_payment": False,
    }
    [made] = top_up_entries(client, c.id, currency="tokens")
    assert (made.amount, made.currency, made.credit_block.per_unit_cost_basis) == (
        40, "tokens", "0.25",
    )  # fmt: skip
    block = client.credit_blocks.retrieve(made.credit_block.id)
    assert (block.credit_block_source, block.status, block.balance) == ("top_up", "active", 40)
    assert abs(block.effective_date - made.created_at) < timedelta(seconds=1)
    local = block.effective_date.astimezone(zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(local.day, calendar.monthrange(year, month)[1])
    assert block.expiry_date == local.replace(year=year, month=month, day=day).astimezone(UTC)
    [invoice] = made.created_invoices
    assert (invoice.total, invoice.memo, invoice.auto_collection.enabled) == ("10.00", "auto", True)
    assert invoice.status == "issued" and invoice.invoice_date == block.effective_date
    due_local = invoice.invoice_date.astimezone(zone).replace(tzinfo=None) + timedelta(days=3)
    assert invoice.due_date == due_local.replace(tzinfo=zone).astimezone(UTC)


def test_R_TOP_5_top_up_entry_follows_the_triggering_entry(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    increment(client, c.id, 30)
    top_up(client, c.id)
    response = decrement(client, c.id, 25)
    assert (response.entry_type, response.ledger_sequence_number) == ("decrement", 2)
    assert (response.starting_balance, response.ending_balance) == (30, 5)
    [made] = top_up_entries(client, c.id)
    assert (made.ledger_sequence_number, made.starting_balance, made.ending_balance) == (
        3, 5, 105,
    )  # fmt: skip


def test_R_TOP_6_creation_validation_writes_nothing(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    increment(client, c.id, 500)
    bad = (
        {"expires_after_unit": "day"},
        {"expires_after": 0, "expires_after_unit": "day"},
        {"expires_after": 2, "expires_after_unit": "week"},
        {"per_unit_cost_basis": "-0.01"},
        {"active_from": (datetime.now(UTC) - timedelta(days=10, minutes=5)).isoformat()},
        {"invoice_settings": {"auto_collection": False, "net_terms": -1}},
    )
    for overrides in bad:
        rejected(
            server, orb.BadRequestError, "400-request-validation-errors",
            top_up, client, c.id, **overrides,
        )  # fmt: skip
    recent = (datetime.now(UTC) - timedelta(days=9)).isoformat()
    assert top_up(client, c.id, active_from=recent).currency == "credits"


def test_R_TOP_7_deleting_a_top_up_voids_its_unpaid_purchases(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    settings = {"auto_collection": False, "net_terms": 0, "require_successful_payment": True}
    created = top_up(client, c.id, amount="20", invoice_settings=settings)
    [made] = top_up_entries(client, c.id)
    client.customers.credits.top_ups.delete_by_external_id(
        created.id, external_customer_id=c.external_customer_id
    )
    assert client.customers.credits.top_ups.list(c.id).data == []
    assert client.invoices.fetch(made.created_invoices[0].id).status == "void"
    assert client.credit_blocks.retrieve(made.credit_block.id).balance == 0
    voids = client.customers.credits.ledger.list(c.id, entry_type="void")
    assert [(e.amount, e.credit_block.id) for e in voids] == [(20, made.credit_block.id)]


def test_R_TOP_8_voiding_a_top_up_invoice_deactivates_the_top_up(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    top_up(client, c.id, amount="20")
    [made] = top_up_entries(client, c.id)
    client.invoices.void(made.created_invoices[0].id)
    assert client.customers.credits.top_ups.list(c.id).data == []
    assert client.credit_blocks.retrieve(made.credit_block.id).balance == 20  # was active
    decrement(client, c.id, 15)
    assert len(top_up_entries(client, c.id)) == 1


# --- R-DEL through the API -----------------------------------------------------------------


def test_R_DEL_1_deleting_a_block_removes_its_children_and_entries(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    ledger = client.customers.credits.ledger
    doomed = increment(client, c.id, 40).credit_block.id
    kept = increment(client, c.id, 10, per_unit_cost_basis="1").credit_block.id
    ledger.create_entry(
        c.id, entry_type="expiration_change", block_id=doomed, amount=15,
        target_expiry_date="2099-01-01",
    )  # fmt: skip
    child = next(b.id for b in client.customers.credits.list(c.id) if b.id not in (doomed, kept))
    client.credit_blocks.update(child, metadata={"k": "v"})
    decrement(client, c.id, 20)  # child 15, then doomed 5 (cost null < 1)
    client.credit_blocks.delete(doomed)
    for gone in (doomed, child):
        for call in (client.credit_blocks.retrieve, client.credit_blocks.list_invoices):
            rejected(server, orb.NotFoundError, "404-resource-not-found", call, gone)
    rejected(
        server, orb.NotFoundError, "404-resource-not-found", client.credit_blocks.delete, doomed
    )
    entries = ledger.list(c.id)
    assert [
        (e.entry_type, e.ledger_sequence_number, e.amount, e.credit_block.id) for e in entries
    ] == [
        ("decrement", 2, 20, kept),
        ("increment", 1, 10, kept),
    ]
    assert [(b.id, b.balance) for b in client.customers.credits.list(c.id)] == [(kept, -10)]


def test_R_DEL_4_deleting_a_bought_block_voids_issued_keeps_paid(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    issued = purchase(client, c.id, 10, "1")
    paid = purchase(client, c.id, 10, "1", mark_as_paid=True)
    for bought in (issued, paid):
        client.credit_blocks.delete(bought.credit_block.id)
    assert client.invoices.fetch(issued.created_invoices[0].id).status == "void"
    assert client.invoices.fetch(paid.created_invoices[0].id).status == "paid"
    assert client.customers.credits.ledger.list(c.id).data == []


def test_R_DEL_5_replay_does_not_evaluate_top_ups(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    first = increment(client, c.id, 50).credit_block.id
    top_up(client, c.id, threshold="10", amount="30")
    decrement(client, c.id, 45)  # D = 5: fires once
    [made] = top_up_entries(client, c.id)
    second = increment(client, c.id, 50).credit_block.id
    client.credit_blocks.delete(second)
    client.credit_blocks.delete(first)  # replay: decrement 45 now lands on a deficit block
    [again] = top_up_entries(client, c.id)
    assert (again.id, again.credit_block.id) == (made.id, made.credit_block.id)
    entries = client.customers.credits.ledger.list(c.id)
    assert [
        (e.entry_type, e.ledger_sequence_number, e.amount, e.ending_balance) for e in entries
    ] == [
        ("increment", 2, 30, -15),
        ("decrement", 1, 45, -45),
    ]
    blocks = [(b.id, b.balance) for b in client.customers.credits.list(c.id)]
    assert blocks == [(entries.data[1].credit_block.id, -45), (made.credit_block.id, 30)]
