"""Purchased credits: invoices, payment-gated blocks and top-ups through the SDK."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, date, datetime, timedelta

import orb
import pytest

from conftest import Server, unique


def buyer(client: orb.Orb, **kwargs) -> orb.types.Customer:
    return client.customers.create(
        name="Buyer",
        email="buy@example.com",
        currency="USD",
        external_customer_id=unique(),
        **kwargs,
    )


def test_purchase_creates_exact_invoice(server: Server) -> None:
    """R-INV-1..3: 1000 credits at 0.015 = 15.00, due net_terms days after the invoice date."""
    strict = orb.Orb(
        api_key=server.api_key,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    )
    c = buyer(strict)
    entry = strict.customers.credits.ledger.create_entry(
        c.id,
        entry_type="increment",
        amount=1000,
        per_unit_cost_basis="0.015",
        invoice_settings={
            "auto_collection": False,
            "net_terms": 30,
            "memo": "pack",
            "invoice_date": "2026-01-10",
        },
    )
    [invoice] = entry.created_invoices
    assert (invoice.total, invoice.subtotal, invoice.amount_due) == ("15.00", "15.00", "15.00")
    assert invoice.status == "issued" and invoice.currency == "USD" and invoice.memo == "pack"
    assert invoice.invoice_date == datetime(2026, 1, 10, tzinfo=UTC)
    assert invoice.due_date == datetime(2026, 2, 9, tzinfo=UTC)
    assert invoice.line_items[0].quantity == 1000
    assert invoice.invoice_number.startswith("DD-")
    fetched = strict.invoices.fetch(invoice.id)
    assert fetched.id == invoice.id and fetched.customer.id == c.id
    listed = [i.id for i in strict.invoices.list(customer_id=c.id)]
    assert listed == [invoice.id]
    again = next(iter(strict.customers.credits.ledger.list(c.id)))
    assert again.created_invoices[0].id == invoice.id
    block = strict.credit_blocks.list_invoices(entry.credit_block.id)
    assert [i.id for i in block.invoices] == [invoice.id]


def test_payment_gated_block_becomes_available_when_paid(client: orb.Orb) -> None:
    """R-INV-4, R-INV-5."""
    c = buyer(client)
    ledger = client.customers.credits.ledger
    entry = ledger.create_entry(
        c.id,
        entry_type="increment",
        amount=100,
        per_unit_cost_basis="0.10",
        invoice_settings={
            "auto_collection": True,
            "net_terms": 0,
            "require_successful_payment": True,
        },
    )
    invoice = entry.created_invoices[0]
    [block] = client.customers.credits.list(c.id)
    assert block.status == "pending_payment"
    d = ledger.create_entry(c.id, entry_type="decrement", amount=5)
    assert d.credit_block.id != entry.credit_block.id  # drawn from a deficit block
    paid = client.invoices.mark_paid(
        invoice.id, payment_received_date=date(2026, 1, 5), external_id="pay_1"
    )
    assert paid.status == "paid" and paid.paid_at is not None
    assert client.credit_blocks.retrieve(entry.credit_block.id).status == "active"
    d2 = ledger.create_entry(c.id, entry_type="decrement", amount=5)
    assert d2.credit_block.id == entry.credit_block.id
    with pytest.raises(orb.BadRequestError):
        client.invoices.void(invoice.id)


def test_voiding_invoice_voids_pending_block(client: orb.Orb) -> None:
    """R-INV-6."""
    c = buyer(client)
    entry = client.customers.credits.ledger.create_entry(
        c.id,
        entry_type="increment",
        amount=40,
        per_unit_cost_basis="1",
        invoice_settings={
            "auto_collection": False,
            "net_terms": 7,
            "require_successful_payment": True,
        },
    )
    voided = client.invoices.void(entry.created_invoices[0].id)
    assert voided.status == "void"
    assert client.credit_blocks.retrieve(entry.credit_block.id).balance == 0
    with pytest.raises(orb.BadRequestError):
        client.invoices.mark_paid(voided.id, payment_received_date="2026-01-01")


def test_mark_as_paid_and_invoice_validation(server: Server, client: orb.Orb) -> None:
    c = buyer(client)
    ledger = client.customers.credits.ledger
    entry = ledger.create_entry(
        c.id,
        entry_type="increment",
        amount=10,
        per_unit_cost_basis="2.5",
        invoice_settings={"auto_collection": False, "net_terms": 0, "mark_as_paid": True},
    )
    assert entry.created_invoices[0].status == "paid"
    before = server.snapshot()
    bad_settings = [
        ({"auto_collection": False, "net_terms": 0}, None),
        ({"auto_collection": False, "net_terms": 1, "custom_due_date": "2030-01-01"}, "1"),
        ({"auto_collection": False, "net_terms": -1}, "1"),
    ]
    for settings, cost in bad_settings:
        kwargs = {"per_unit_cost_basis": cost} if cost else {}
        with pytest.raises(orb.BadRequestError):
            ledger.create_entry(
                c.id, entry_type="increment", amount=10, invoice_settings=settings, **kwargs
            )
    no_currency = client.customers.create(name="N", email="n@example.com")
    with pytest.raises(orb.BadRequestError):
        ledger.create_entry(
            no_currency.id,
            entry_type="increment",
            amount=1,
            per_unit_cost_basis="1",
            invoice_settings={"auto_collection": False, "net_terms": 0},
        )
    assert server.snapshot()["invoices"] == before["invoices"]


def _top_up(client: orb.Orb, customer_id: str, **overrides):
    body = dict(
        amount="100",
        currency="credits",
        threshold="10",
        per_unit_cost_basis="0.05",
        invoice_settings={"auto_collection": False, "net_terms": 15},
    )
    body.update(overrides)
    return client.customers.credits.top_ups.create(customer_id, **body)


def test_top_up_fires_once_when_sixteen_threads_cross(server: Server) -> None:
    client = server.client(max_retries=5)
    c = buyer(client)
    ledger = client.customers.credits.ledger
    ledger.create_entry(c.id, entry_type="increment", amount=50)
    top_up = _top_up(client, c.id)
    assert top_up.threshold == "10" and top_up.amount == "100"

    def spend(_: int) -> None:
        ledger.create_entry(c.id, entry_type="decrement", amount=2.5)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(spend, range(16)))  # 50 - 40 = 10: crosses exactly once
    increments = [e for e in ledger.list(c.id, entry_type="increment")]
    top_ups = [e for e in increments if e.description == "Top-up"]
    assert len(top_ups) == 1
    assert top_ups[0].created_invoices[0].total == "5.00"
    assert sum(b.balance for b in client.customers.credits.list(c.id)) == 110


def test_top_up_replacement_listing_and_deletion(server: Server, client: orb.Orb) -> None:
    """R-TOP-1, R-TOP-6, R-TOP-7."""
    c = buyer(client)
    ext = c.external_customer_id
    first = _top_up(client, c.id, threshold="0")
    second = client.customers.credits.top_ups.create_by_external_id(
        ext,
        amount="50",
        currency="credits",
        threshold="0",
        per_unit_cost_basis="0.10",
        invoice_settings={"auto_collection": True, "net_terms": 0},
        expires_after=1,
        expires_after_unit="month",
    )
    assert second.id != first.id
    assert [t.id for t in client.customers.credits.top_ups.list(c.id)] == [second.id]
    assert [t.id for t in client.customers.credits.top_ups.list_by_external_id(ext)] == [second.id]
    with pytest.raises(orb.NotFoundError):
        client.customers.credits.top_ups.delete(first.id, customer_id=c.id)
    client.customers.credits.top_ups.delete_by_external_id(second.id, external_customer_id=ext)
    assert list(client.customers.credits.top_ups.list(c.id)) == []
    before = server.snapshot()
    for overrides in (
        {"threshold": "-1"},
        {"amount": "0"},
        {"expires_after": 3},
        {"active_from": (datetime.now(UTC) - timedelta(days=11)).isoformat()},
    ):
        with pytest.raises(orb.BadRequestError):
            _top_up(client, c.id, **overrides)
    assert server.snapshot() == before


def test_top_up_fires_at_creation_when_already_below_threshold(client: orb.Orb) -> None:
    c = buyer(client)
    _top_up(client, c.id, threshold="10", expires_after=2, expires_after_unit="day")
    [block] = client.customers.credits.list(c.id)
    assert block.balance == 100 and block.expiry_date is not None
    assert block.credit_block_source == "top_up"
