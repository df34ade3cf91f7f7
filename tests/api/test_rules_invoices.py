"""Credit purchases and their invoices (R-INV-1..7, R-TZ-4, §2.6 invoice listing, E28)."""

from __future__ import annotations

from datetime import UTC, datetime

import orb
import pytest
from rules_helpers import customer, decrement, increment, purchase, rejected

from conftest import Server


def test_R_INV_1_total_is_quantity_times_cost_rounded_half_up(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    for amount, cost, total in ((25, "0.005", "0.13"), (2.675, "1", "2.68"), (3, "0.333", "1.00")):
        [invoice] = purchase(strict, c.id, amount, cost).created_invoices
        assert (invoice.subtotal, invoice.total, invoice.amount_due) == (total, total, total)
        [line] = invoice.line_items
        assert (line.quantity, line.amount, line.subtotal, line.adjusted_subtotal) == (
            amount, total, total, total,
        )  # fmt: skip
        assert (line.credits_applied, line.partially_invoiced_amount) == ("0.00", "0.00")
        assert line.price.unit_config.unit_amount == cost
        assert line.price.fixed_price_quantity == amount
        assert line.start_date == line.end_date == invoice.invoice_date


def test_R_INV_2_invoice_date_defaults_to_the_blocks_effective_date(client: orb.Orb) -> None:
    c = customer(client, currency="USD", timezone="America/Los_Angeles")
    future = increment(
        client, c.id, 10, effective_date="2030-05-01", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    assert future.created_invoices[0].invoice_date == datetime(2030, 5, 1, 7, tzinfo=UTC)
    explicit = increment(
        client, c.id, 10, effective_date="2030-05-01", per_unit_cost_basis="1",
        invoice_settings={
            "auto_collection": False, "net_terms": 0, "invoice_date": "2030-04-20T10:00:00+02:00",
        },
    )  # fmt: skip
    assert explicit.created_invoices[0].invoice_date == datetime(2030, 4, 20, 8, tzinfo=UTC)


def test_R_INV_3_due_date_is_custom_or_net_terms_days(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    custom = purchase(client, c.id, 1, "1", invoice_date="2030-01-10", custom_due_date="2030-02-01")
    assert custom.created_invoices[0].due_date == datetime(2030, 2, 1, tzinfo=UTC)
    same_day = purchase(client, c.id, 1, "1", invoice_date="2030-01-10", net_terms=0)
    assert same_day.created_invoices[0].due_date == datetime(2030, 1, 10, tzinfo=UTC)
    body = rejected(
        server, orb.BadRequestError, "400-request-validation-errors",
        purchase, client, c.id, 1, "1", invoice_date="2030-01-10", custom_due_date="2030-01-09",
    )  # fmt: skip
    assert body["validation_errors"][0]["field"] == "invoice_settings.custom_due_date"


@pytest.mark.parametrize(
    ("cost", "settings", "invoice_status", "block_status", "received"),
    [
        ("2", {"mark_as_paid": True, "require_successful_payment": True}, "paid", "active", True),
        ("0", {"require_successful_payment": True}, "paid", "active", False),
        ("0.001", {}, "paid", "active", False),
        ("2", {"require_successful_payment": True}, "issued", "pending_payment", False),
        ("2", {}, "issued", "active", False),
    ],
)
def test_R_INV_4_invoice_and_block_status_at_creation(
    client: orb.Orb,
    cost: str,
    settings: dict[str, bool],
    invoice_status: str,
    block_status: str,
    received: bool,
) -> None:
    c = customer(client, currency="USD")
    bought = purchase(
        client, c.id, 3, cost, invoice_date="2030-01-10", auto_collection=True, memo="m",
        item_id="item-credits", **settings,
    )  # fmt: skip
    [invoice] = bought.created_invoices
    assert (invoice.status, client.credit_blocks.retrieve(bought.credit_block.id).status) == (
        invoice_status,
        block_status,
    )
    assert (invoice.paid_at is not None) == (invoice_status == "paid")
    expected_received = datetime(2030, 1, 10, tzinfo=UTC) if received else None
    assert invoice.payment_received_at == expected_received
    assert (invoice.auto_collection.enabled, invoice.memo) == (True, "m")
    assert invoice.line_items[0].price.item.id == "item-credits"


def test_R_INV_5_paying_activates_the_block_without_a_ledger_entry(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client, currency="USD", timezone="Europe/Berlin")
    bought = purchase(client, c.id, 30, "1", require_successful_payment=True)
    before = server.snapshot()
    paid = client.invoices.mark_paid(
        bought.created_invoices[0].id, payment_received_date="2030-07-01", notes="wire"
    )
    after = server.snapshot()
    assert (paid.status, paid.payment_received_at) == (
        "paid",
        datetime(2030, 6, 30, 22, tzinfo=UTC),
    )
    assert after["ledger_entries"] == before["ledger_entries"]
    block = client.credit_blocks.retrieve(bought.credit_block.id)
    assert (block.status, block.balance) == ("active", 30)
    assert decrement(client, c.id, 4).credit_block.id == bought.credit_block.id
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        client.invoices.mark_paid, paid.id, payment_received_date="2030-07-02",
    )  # fmt: skip


def test_R_INV_6_voiding_the_invoice_voids_only_a_pending_block(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    gated = purchase(client, c.id, 30, "1", require_successful_payment=True)
    open_ = purchase(client, c.id, 20, "1")
    client.invoices.void(gated.created_invoices[0].id)
    voided = client.invoices.void(open_.created_invoices[0].id)
    assert (voided.status, voided.voided_at is not None) == ("void", True)
    entries = client.customers.credits.ledger.list(c.id)
    assert [(e.entry_type, e.amount, e.credit_block.id, e.ending_balance) for e in entries] == [
        ("void", 30, gated.credit_block.id, 20),
        ("increment", 20, open_.credit_block.id, 50),
        ("increment", 30, gated.credit_block.id, 30),
    ]
    assert (entries.data[0].void_amount, entries.data[0].void_reason) == (30, None)
    listed = client.customers.credits.list(c.id)
    assert [(b.id, b.balance) for b in listed] == [(open_.credit_block.id, 20)]


def test_R_INV_7_cost_basis_is_echoed_everywhere(client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    bought = purchase(client, c.id, 50, "0.20")
    block_id = bought.credit_block.id
    used = decrement(client, c.id, 5)
    change = client.customers.credits.ledger.create_entry(
        c.id, entry_type="expiration_change", block_id=block_id, amount=10,
        target_expiry_date="2099-01-01",
    )  # fmt: skip
    assert {bought.credit_block.per_unit_cost_basis, used.credit_block.per_unit_cost_basis} == {
        "0.20"
    }
    assert change.credit_block.per_unit_cost_basis == "0.20"
    blocks = client.customers.credits.list(c.id)
    assert [(b.balance, b.per_unit_cost_basis) for b in blocks] == [(10, "0.20"), (35, "0.20")]
    assert client.credit_blocks.retrieve(block_id).per_unit_cost_basis == "0.20"


def test_R_TZ_4_net_terms_count_local_days_across_dst(client: orb.Orb) -> None:
    c = customer(client, currency="USD", timezone="America/Los_Angeles")
    bought = purchase(client, c.id, 1, "1", invoice_date="2030-03-05", net_terms=10)
    [invoice] = bought.created_invoices
    assert invoice.invoice_date == datetime(2030, 3, 5, 8, tzinfo=UTC)  # PST
    assert invoice.due_date == datetime(2030, 3, 15, 7, tzinfo=UTC)  # PDT since 2030-03-10


# --- §2.6 invoice listing, E28 -------------------------------------------------------------


def test_invoice_list_filters_and_default_excludes_void(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    jan = purchase(client, c.id, 1, "1", invoice_date="2030-01-01").created_invoices[0]
    feb = purchase(client, c.id, 2, "1", invoice_date="2030-02-01", mark_as_paid=True)
    feb = feb.created_invoices[0]
    mar = purchase(client, c.id, 3, "1", invoice_date="2030-03-01").created_invoices[0]
    client.invoices.void(mar.id)
    invoices = client.invoices

    def ids(**query: object) -> list[str]:
        return [i.id for i in invoices.list(**query)]

    assert ids(customer_id=c.id) == [feb.id, jan.id]
    assert ids(external_customer_id=c.external_customer_id) == [feb.id, jan.id]
    assert ids(customer_id=c.id, status=["void"]) == [mar.id]
    assert ids(customer_id=c.id, status=["issued", "void"]) == [mar.id, jan.id]
    assert ids(customer_id=c.id, status=["draft"]) == []
    gte = datetime(2030, 2, 1, tzinfo=UTC)
    assert ids(customer_id=c.id, invoice_date_gte=gte) == [feb.id]
    assert ids(customer_id=c.id, invoice_date_gt=gte, status=["paid", "void"]) == [mar.id]
    assert ids(customer_id=c.id, invoice_date_lt=gte) == [jan.id]
    assert ids(customer_id=c.id, limit=1) == [feb.id, jan.id]
    rejected(
        server, orb.BadRequestError, "400-request-validation-errors",
        invoices.list, customer_id=c.id, status=["lost"],
    )  # fmt: skip


def test_E28_issue_is_always_a_constraint_violation(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    invoice = purchase(client, c.id, 1, "1").created_invoices[0]
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        client.invoices.issue, invoice.id, synchronous=True,
    )  # fmt: skip
    assert client.invoices.fetch(invoice.id).status == "issued"


def test_invoice_due_date_filters_are_whole_utc_days(client: orb.Orb) -> None:
    """§2.6: `due_date=D` is day D, `due_date[gt]=D` after day D, `due_date[lt]=D` before it."""
    c = customer(client, currency="USD")
    bought = purchase(client, c.id, 10, "1", invoice_date="2030-01-10T15:00:00Z")
    [invoice] = bought.created_invoices
    assert invoice.due_date == datetime(2030, 1, 10, 15, tzinfo=UTC)

    def ids(**filters: str) -> list[str]:
        return [i.id for i in client.invoices.list(customer_id=c.id, **filters)]

    assert ids(due_date="2030-01-10") == [invoice.id]
    assert ids(due_date="2030-01-11") == []
    assert ids(due_date_gt="2030-01-10") == []
    assert ids(due_date_gt="2030-01-09") == [invoice.id]
    assert ids(due_date_lt="2030-01-10") == []
    assert ids(due_date_lt="2030-01-11") == [invoice.id]
