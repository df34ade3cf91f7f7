"""Every response parses under the SDK's strict validation (docs/rules.md Q34): all keys,
right types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orb

from conftest import Server, unique


def test_every_endpoint_passes_strict_response_validation(server: Server) -> None:
    sdk = orb.Orb(api_key=server.api_key, base_url=server.base_url,
                  _strict_response_validation=True, max_retries=0)  # fmt: skip
    c = sdk.customers.create(name="Strict", email="s@example.com", currency="USD",
                             external_customer_id=unique(), billing_address={"city": "Oslo"},
                             tax_id={"country": "NO", "type": "no_vat", "value": "1"})  # fmt: skip
    ledger = sdk.customers.credits.ledger
    soon = (datetime.now(UTC) + timedelta(days=10)).date()
    bought = ledger.create_entry(
        c.id, entry_type="increment", amount=100, per_unit_cost_basis="0.5", expiry_date=soon,
        invoice_settings={"auto_collection": False, "net_terms": 5,
                          "require_successful_payment": True},
    )  # fmt: skip
    free = ledger.create_entry(c.id, entry_type="increment", amount=50)
    old = ledger.create_entry(
        c.id, entry_type="increment", amount=5, effective_date=datetime.now(UTC) - timedelta(days=2)
    )
    ledger.create_entry(
        c.id,
        entry_type="expiration_change",
        block_id=old.credit_block.id,
        amount=2,
        target_expiry_date=datetime.now(UTC).date(),
    )
    ledger.create_entry(c.id, entry_type="decrement", amount=60)
    ledger.create_entry(
        c.id, entry_type="void", block_id=free.credit_block.id, amount=50, void_reason="refund"
    )
    ledger.create_entry(c.id, entry_type="amendment", block_id=free.credit_block.id, amount=1)
    types = {e.entry_type for e in ledger.list(c.id, limit=100)}
    assert types == {"increment", "decrement", "void", "void_initiated", "amendment",
                     "expiration_change", "credit_block_expiry"}  # fmt: skip
    assert {e.entry_type for e in ledger.list_by_external_id(c.external_customer_id)} == types
    assert sdk.customers.credits.list(c.id, include_all_blocks=True).data
    assert sdk.customers.credits.list_by_external_id(c.external_customer_id).data
    block = sdk.credit_blocks.retrieve(bought.credit_block.id)
    assert sdk.credit_blocks.update(block.id, metadata={"k": "v"}).metadata == {"k": "v"}
    assert sdk.credit_blocks.list_invoices(block.id).invoices
    invoice = bought.created_invoices[0]
    assert sdk.invoices.fetch(invoice.id).id == invoice.id
    assert [i.id for i in sdk.invoices.list(customer_id=c.id)] == [invoice.id]
    assert sdk.invoices.mark_paid(invoice.id, payment_received_date=soon).status == "paid"
    top_up = sdk.customers.credits.top_ups.create(
        c.id,
        amount="10",
        currency="credits",
        threshold="1",
        per_unit_cost_basis="0.1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )
    assert [t.id for t in sdk.customers.credits.top_ups.list(c.id)] == [top_up.id]
    assert sdk.customers.credits.top_ups.list_by_external_id(c.external_customer_id).data
    assert sdk.customers.fetch_by_external_id(c.external_customer_id).id == c.id
    assert sdk.customers.update(c.id, name="Strict 2").name == "Strict 2"
    assert sdk.customers.list(limit=1).data
    assert sdk.top_level.ping().response == "pong"
