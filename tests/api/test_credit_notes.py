"""Credit notes on credit purchases (issue 19): a refund or adjustment in money, the credits it
bought taken back from the purchase's blocks, on the invoice and the customer's cash balance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orb
import pytest
from rules_helpers import customer, decrement, purchase, raw_rejected, rejected

from conftest import Server

REFUND = "refund"


def line(invoice: Any, amount: str, **dates: str) -> dict[str, str]:
    return {"invoice_line_item_id": invoice.line_items[0].id, "amount": amount, **dates}


def paid_purchase(client: orb.Orb, amount: float, cost: str, **kw: Any) -> tuple[Any, Any, Any]:
    """(customer, increment entry, invoice) of a paid credit purchase."""
    c = customer(client, currency="USD", **kw)
    bought = purchase(client, c.id, amount, cost, mark_as_paid=True, invoice_date="2030-01-10")
    return c, bought, bought.created_invoices[0]


def test_refund_on_a_paid_invoice_voids_credits_and_credits_the_cash_balance(
    server: Server,
) -> None:
    strict = server.client(_strict_response_validation=True)
    c, bought, invoice = paid_purchase(strict, 100, "0.10")
    note = strict.credit_notes.create(
        line_items=[line(invoice, "2.50")], reason="product_unsatisfactory", memo="sorry"
    )
    assert (note.type, note.total, note.subtotal, note.reason, note.memo) == (
        REFUND, "2.50", "2.50", "Product unsatisfactory", "sorry",
    )  # fmt: skip
    assert (note.invoice_id, note.customer.id, note.voided_at) == (invoice.id, c.id, None)
    assert note.credit_note_number.startswith("DD-CN-")
    [item] = note.line_items
    assert (item.amount, item.subtotal, item.quantity, item.item_id, item.name) == (
        "2.50", "2.50", 25, "credits", "Credits",
    )  # fmt: skip
    assert item.start_time_inclusive == item.end_time_exclusive == invoice.invoice_date
    [void, *_] = strict.customers.credits.ledger.list(c.id)
    assert (void.entry_type, void.amount, void.void_reason, void.credit_block.id) == (
        "void", 25, "refund", bought.credit_block.id,
    )  # fmt: skip
    assert (void.description, void.metadata) == (
        f"Credit note {note.credit_note_number}", {"credit_note_id": note.id},
    )  # fmt: skip
    assert strict.credit_blocks.retrieve(bought.credit_block.id).balance == 75
    after = strict.invoices.fetch(invoice.id)
    assert (after.status, after.total, after.amount_due) == ("paid", "10.00", "10.00")
    [summary] = after.credit_notes
    assert (summary.id, summary.total, summary.type, summary.reason) == (
        note.id, "2.50", REFUND, "Product unsatisfactory",
    )  # fmt: skip
    [move] = after.customer_balance_transactions
    assert (move.action, move.type, move.amount, move.starting_balance, move.ending_balance) == (
        "credit_note_applied", "increment", "2.50", "0.00", "2.50",
    )  # fmt: skip
    assert (move.credit_note.id, move.invoice.id) == (note.id, invoice.id)
    assert strict.customers.fetch(c.id).balance == "2.50"


def test_partial_refunds_add_up_to_exactly_the_purchase(server: Server) -> None:
    """3 credits at 0.333 cost 1.00 (rounded): two halves take back 1.5 credits each."""
    strict = server.client(_strict_response_validation=True)
    c, bought, invoice = paid_purchase(strict, 3, "0.333")
    first = strict.credit_notes.create(line_items=[line(invoice, "0.50")], reason="duplicate")
    second = strict.credit_notes.create(line_items=[line(invoice, "0.50")], reason="duplicate")
    assert (first.line_items[0].quantity, second.line_items[0].quantity) == (1.5, 1.5)
    block = strict.credit_blocks.retrieve(bought.credit_block.id)
    assert block.balance == 0
    assert strict.customers.fetch(c.id).balance == "1.00"
    body = rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        strict.credit_notes.create, line_items=[line(invoice, "0.01")], reason="duplicate",
    )  # fmt: skip
    assert "line_items.0.amount" in body["detail"]


def test_a_refund_takes_back_only_the_credits_left(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c, bought, invoice = paid_purchase(strict, 100, "0.10")
    decrement(strict, c.id, 80)
    note = strict.credit_notes.create(line_items=[line(invoice, "10.00")], reason="fraudulent")
    assert note.line_items[0].quantity == 20
    block = strict.credit_blocks.retrieve(bought.credit_block.id)
    assert block.balance == 0
    entries = [(e.entry_type, e.amount) for e in strict.customers.credits.ledger.list(c.id)]
    assert entries[0] == ("void", 20)
    assert "void_initiated" not in [kind for kind, _ in entries]
    assert strict.customers.fetch(c.id).balance == "10.00"


def test_a_refund_follows_credits_moved_by_an_expiration_change(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c, bought, invoice = paid_purchase(strict, 100, "0.10")
    moved = strict.customers.credits.ledger.create_entry(
        c.id, entry_type="expiration_change", block_id=bought.credit_block.id, amount=40,
        target_expiry_date="2099-01-01",
    )  # fmt: skip
    decrement(strict, c.id, 50)  # the child expires first, so it is drawn first: 40, then 10
    note = strict.credit_notes.create(line_items=[line(invoice, "10.00")], reason="duplicate")
    assert note.line_items[0].quantity == 50
    voids = [
        (e.credit_block.id, e.amount)
        for e in strict.customers.credits.ledger.list(c.id, entry_type="void")
    ]
    assert voids == [(bought.credit_block.id, 50)]
    assert moved.entry_type == "expiration_change"


def test_an_adjustment_on_an_issued_invoice_lowers_the_amount_due(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    bought = purchase(strict, c.id, 50, "1", require_successful_payment=True)
    [invoice] = bought.created_invoices
    note = strict.credit_notes.create(line_items=[line(invoice, "20")], reason="order_change")
    assert (note.type, note.total, note.reason) == ("adjustment", "20.00", "Order change")
    fetched = strict.invoices.fetch(invoice.id)
    assert (fetched.status, fetched.total, fetched.amount_due) == ("issued", "50.00", "30.00")
    assert fetched.customer_balance_transactions == []
    assert strict.customers.fetch(c.id).balance == "0.00"
    block = strict.credit_blocks.retrieve(bought.credit_block.id)
    assert (block.balance, block.status) == (30, "pending_payment")
    paid = strict.invoices.mark_paid(invoice.id, payment_received_date="2030-01-11")
    assert (paid.status, paid.amount_due) == ("paid", "30.00")
    assert strict.credit_blocks.retrieve(bought.credit_block.id).status == "active"


def test_service_periods_are_inclusive_days_in_the_customers_timezone(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    _, _, invoice = paid_purchase(strict, 10, "1", timezone="America/Los_Angeles")
    note = strict.credit_notes.create(
        line_items=[line(invoice, "1")], reason="duplicate",
        start_date="2030-01-01", end_date="2030-01-31",
    )  # fmt: skip
    item = note.line_items[0]
    assert item.start_time_inclusive == datetime(2030, 1, 1, 8, tzinfo=UTC)
    assert item.end_time_exclusive == datetime(2030, 2, 1, 8, tzinfo=UTC)
    own = strict.credit_notes.create(
        line_items=[line(invoice, "1", start_date="2030-03-01", end_date="2030-03-01")],
        reason="duplicate",
    )
    assert own.line_items[0].end_time_exclusive == datetime(2030, 3, 2, 8, tzinfo=UTC)
    for fields, bad in (
        ({"start_date": "2030-01-01", "line_items": [line(invoice, "1", start_date="2030-01-01",
                                                          end_date="2030-01-02")]}, "start_date"),
        ({"start_date": "2030-01-05", "end_date": "2030-01-01"}, "end_date"),
        ({"start_date": "2030-01-05"}, "end_date"),
        ({"start_date": "someday", "end_date": "2030-01-01"}, "start_date"),
    ):  # fmt: skip
        body = {"line_items": [line(invoice, "1")], "reason": "duplicate", **fields}
        found = raw_rejected(server, "POST", "/credit_notes", 400,
                             "400-request-validation-errors", json=body)  # fmt: skip
        assert found["validation_errors"][0]["field"] == bad, found


def test_list_and_fetch(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c, _, invoice = paid_purchase(strict, 100, "1")
    notes = [
        strict.credit_notes.create(line_items=[line(invoice, "1")], reason="duplicate")
        for _ in range(3)
    ]
    other, _, other_invoice = paid_purchase(strict, 10, "1")
    theirs = strict.credit_notes.create(line_items=[line(other_invoice, "1")], reason="duplicate")
    mine = strict.credit_notes.list(limit=2, extra_query={"customer_id": c.id})
    assert [n.id for n in mine] == [n.id for n in reversed(notes)]  # the pager follows cursors
    assert mine.pagination_metadata.has_more is True
    by_alias = strict.credit_notes.list(
        extra_query={"external_customer_id": other.external_customer_id}
    )
    assert [n.id for n in by_alias] == [theirs.id]
    everything = [n.id for n in strict.credit_notes.list(created_at_gte=notes[0].created_at)]
    assert everything[:4] == [theirs.id, *(n.id for n in reversed(notes))]
    earlier = strict.credit_notes.list(
        created_at_lt=notes[0].created_at, extra_query={"customer_id": c.id}
    )
    assert list(earlier) == []
    assert strict.credit_notes.fetch(notes[1].id) == notes[1]
    fetched_invoice = strict.invoices.fetch(invoice.id)
    assert [n.id for n in fetched_invoice.credit_notes] == [n.id for n in notes]
    assert strict.customers.fetch(c.id).balance == "3.00"
    with pytest.raises(orb.NotFoundError):
        strict.credit_notes.fetch("noSuchCreditNote")
    unknown = strict.credit_notes.list(extra_query={"customer_id": "noSuchCustomer1"})
    assert list(unknown) == []


def test_credit_note_creation_is_idempotent(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c, _, invoice = paid_purchase(strict, 100, "1")
    first = strict.credit_notes.create(
        line_items=[line(invoice, "5")], reason="duplicate", idempotency_key="refund-once"
    )
    again = strict.credit_notes.create(
        line_items=[line(invoice, "5")], reason="duplicate", idempotency_key="refund-once"
    )
    assert again == first
    assert len(strict.customers.credits.ledger.list(c.id, entry_type="void").data) == 1


@pytest.mark.parametrize(
    ("amount", "reason", "field"),
    [
        ("0", "duplicate", "line_items.0.amount"),
        ("-1", "duplicate", "line_items.0.amount"),
        ("1.005", "duplicate", "line_items.0.amount"),
        ("ten", "duplicate", "line_items.0.amount"),
        ("1", "regret", "reason"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    server: Server, amount: str, reason: str, field: str
) -> None:
    strict = server.client(_strict_response_validation=True)
    _, _, invoice = paid_purchase(strict, 100, "1")
    body = rejected(
        server, orb.BadRequestError, "400-request-validation-errors",
        strict.credit_notes.create, line_items=[line(invoice, amount)], reason=reason,  # type: ignore[arg-type]
    )  # fmt: skip
    assert body["validation_errors"][0]["field"] == field


def test_malformed_bodies_are_refused(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    _, _, invoice = paid_purchase(strict, 100, "1")
    for body, field in (
        ({"line_items": [], "reason": "duplicate"}, "line_items"),
        ({"line_items": [line(invoice, "1")]}, "reason"),
        ({"line_items": [{"invoice_line_item_id": invoice.line_items[0].id, "amount": 1}],
          "reason": "duplicate"}, "line_items.0.amount"),
        ({"line_items": [line(invoice, "1"), line(invoice, "1")], "reason": "duplicate"},
         "line_items.1.invoice_line_item_id"),
        ({"line_items": [line(invoice, "1")], "reason": "duplicate", "memo": "m" * 1001},
         "memo"),
    ):  # fmt: skip
        found = raw_rejected(server, "POST", "/credit_notes", 400,
                             "400-request-validation-errors", json=body)  # fmt: skip
        assert found["validation_errors"][0]["field"] == field, found


def test_more_than_the_invoice_is_refused_and_nothing_is_written(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    _, _, invoice = paid_purchase(strict, 100, "0.10")
    body = rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        strict.credit_notes.create, line_items=[line(invoice, "10.01")], reason="duplicate",
    )  # fmt: skip
    assert "line_items.0.amount" in body["detail"] and "10.00" in body["detail"]


def test_unknown_line_item_is_not_found(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    _, _, invoice = paid_purchase(strict, 100, "1")
    body = rejected(
        server, orb.NotFoundError, "404-resource-not-found", strict.credit_notes.create,
        line_items=[{"invoice_line_item_id": "noSuchLineItem1", "amount": "1"}],
        reason="duplicate",
    )  # fmt: skip
    assert "InvoiceLineItem" in body["detail"] and "noSuchLineItem1" in body["detail"]
    other, _, other_invoice = paid_purchase(strict, 10, "1")
    body = rejected(
        server, orb.BadRequestError, "400-request-validation-errors", strict.credit_notes.create,
        line_items=[line(invoice, "1"), line(other_invoice, "1")], reason="duplicate",
    )  # fmt: skip
    assert body["validation_errors"][0]["field"] == "line_items.1.invoice_line_item_id"
    assert other.id


def test_only_issued_or_paid_invoices_can_be_credited(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    voided = purchase(strict, c.id, 10, "1").created_invoices[0]
    strict.invoices.void(voided.id)
    free = purchase(strict, c.id, 10, "0").created_invoices[0]
    assert (free.status, free.total) == ("paid", "0.00")
    for invoice, kind in ((voided, "void"), (free, "0.00")):
        body = rejected(
            server, orb.BadRequestError, "400-constraint-violation",
            strict.credit_notes.create, line_items=[line(invoice, "0.01")], reason="duplicate",
        )  # fmt: skip
        assert kind in body["detail"], body


def test_a_draft_invoice_cannot_be_credited(drafting_server: Server) -> None:
    server = drafting_server
    strict = server.client(_strict_response_validation=True)
    drafted = customer(strict, currency="USD", auto_issuance=False)
    draft = purchase(strict, drafted.id, 10, "1").created_invoices[0]
    assert draft.status == "draft"
    body = rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        strict.credit_notes.create, line_items=[line(draft, "0.01")], reason="duplicate",
    )  # fmt: skip
    assert "draft" in body["detail"], body


def test_a_refund_can_fire_a_top_up(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c, bought, invoice = paid_purchase(strict, 100, "1")
    strict.customers.credits.top_ups.create(
        c.id, currency="credits", threshold="50", amount="30", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    strict.credit_notes.create(line_items=[line(invoice, "60")], reason="duplicate")
    entries = [(e.entry_type, e.amount) for e in strict.customers.credits.ledger.list(c.id)]
    assert entries[:2] == [("increment", 30), ("void", 60)]
    assert bought.credit_block.id
