"""Worked examples: whole stories a billing team would tell, through the official SDK.

Each story reads top to bottom like the customer's statement, and ends by checking that
the ledger proves every balance (R-BAL-2 chain, blocks sum to the last ending_balance).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orb

from conftest import Server, unique


def assert_ledger_proves_balance(client: orb.Orb, customer_id: str) -> float:
    entries = sorted(client.customers.credits.ledger.list(customer_id, currency="credits"),
                     key=lambda e: e.ledger_sequence_number)  # fmt: skip
    running = 0.0
    for entry in entries:
        assert entry.starting_balance == running
        running = entry.ending_balance
    blocks = client.customers.credits.list(customer_id, include_all_blocks=True)
    assert sum(b.balance for b in blocks) == running
    return running


def test_trial_then_purchase_then_usage_expiry_and_refund(server: Server) -> None:
    client = server.client()
    acme = client.customers.create(name="Acme", email="ap@acme.test", currency="USD",
                                   external_customer_id=unique("acme"))  # fmt: skip
    ledger = client.customers.credits.ledger

    # Sign-up: 100 free trial credits that expire in two seconds (think "in 14 days").
    trial_ends = datetime.now(UTC) + timedelta(seconds=2)
    trial = ledger.create_entry(
        acme.id,
        entry_type="increment",
        amount=100,
        expiry_date=trial_ends.isoformat(),
        description="trial",
    )
    # They buy a 1000-credit pack at $0.015 per credit, net 30.
    pack = ledger.create_entry(
        acme.id,
        entry_type="increment",
        amount=1000,
        per_unit_cost_basis="0.015",
        description="pack",
        invoice_settings={"auto_collection": False, "net_terms": 30},
    )
    [invoice] = pack.created_invoices
    assert (invoice.total, invoice.status) == ("15.00", "issued")

    # Usage of 150: the trial (soonest expiry) is drawn first, then the pack (R-DED-2).
    ledger.create_entry(acme.id, entry_type="decrement", amount=150, description="usage")
    used = list(ledger.list(acme.id, entry_type="decrement"))
    assert [(e.credit_block.id, e.amount) for e in used] == [
        (pack.credit_block.id, 50), (trial.credit_block.id, 100)]  # fmt: skip

    # The trial's expiry passes with nothing left in it: no expiry entry (R-EXPY-3).
    time.sleep(max(0.0, (trial_ends - datetime.now(UTC)).total_seconds()) + 0.2)
    assert list(ledger.list(acme.id, entry_type="credit_block_expiry")) == []

    # They pay the invoice, then ask for a refund of 200 unused credits.
    client.invoices.mark_paid(invoice.id, payment_received_date=datetime.now(UTC).date())
    refund = ledger.create_entry(
        acme.id, entry_type="void", block_id=pack.credit_block.id, amount=200, void_reason="refund"
    )
    assert (refund.starting_balance, refund.ending_balance) == (950, 750)
    assert [b.balance for b in client.customers.credits.list(acme.id)] == [750]
    assert assert_ledger_proves_balance(client, acme.id) == 750


def test_overdraft_is_repaid_only_arithmetically(server: Server) -> None:
    client = server.client()
    shop = client.customers.create(name="Shop", email="s@shop.test")
    ledger = client.customers.credits.ledger
    # No credits yet, but usage is never refused (R-NEG-1): a deficit block absorbs it.
    first = ledger.create_entry(shop.id, entry_type="decrement", amount=30)
    assert first.ending_balance == -30
    # A top-up of 100 creates a new block; the deficit block stays at -30 (R-INC-1, R-NEG-2).
    grant = ledger.create_entry(shop.id, entry_type="increment", amount=100)
    balances = {b.id: b.balance for b in client.customers.credits.list(shop.id)}
    assert balances == {first.credit_block.id: -30, grant.credit_block.id: 100}
    # Support made a mistake: amend 10 back onto the grant? Not above its ceiling (R-AMD-2).
    ledger.create_entry(shop.id, entry_type="decrement", amount=40)
    amend = ledger.create_entry(
        shop.id, entry_type="amendment", block_id=grant.credit_block.id, amount=10
    )
    assert amend.ending_balance == 40
    assert assert_ledger_proves_balance(client, shop.id) == 40
