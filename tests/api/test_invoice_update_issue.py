"""`invoices.update` and drafts (issue 19): metadata on any invoice; dates, terms and
auto-collection on drafts only; drafts only with `DRAWDOWN_DRAFT_INVOICES=manual_issuance`,
for customers with `auto_issuance: false` (by default R-INV-4 issues every invoice)."""

from __future__ import annotations

from datetime import UTC, datetime

import orb
import pytest
from rules_helpers import customer, purchase, raw_rejected, rejected

from conftest import Server


def test_metadata_merges_on_issued_and_paid_invoices(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    issued = purchase(strict, c.id, 10, "1").created_invoices[0]
    assert issued.metadata == {}
    updated = strict.invoices.update(issued.id, metadata={"po": "42", "team": "core"})
    assert updated.metadata == {"po": "42", "team": "core"}
    merged = strict.invoices.update(issued.id, metadata={"po": None, "cost": "x"})
    assert merged.metadata == {"team": "core", "cost": "x"}
    assert strict.invoices.fetch(issued.id).metadata == {"team": "core", "cost": "x"}
    assert strict.invoices.update(issued.id).metadata == {"team": "core", "cost": "x"}
    assert strict.invoices.update(issued.id, metadata=None).metadata == {}
    paid = purchase(strict, c.id, 10, "1", mark_as_paid=True).created_invoices[0]
    assert strict.invoices.update(paid.id, metadata={"k": "v"}).metadata == {"k": "v"}
    listed = next(iter(strict.customers.credits.ledger.list(c.id)))
    assert listed.created_invoices[0].metadata == {"k": "v"}


def test_dates_and_terms_change_only_on_drafts(server: Server) -> None:
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD")
    issued = purchase(strict, c.id, 10, "1").created_invoices[0]
    for field, value in (("due_date", "2031-01-01"), ("net_terms", 5),
                         ("invoice_date", "2030-01-01"), ("auto_collection", True)):  # fmt: skip
        body = rejected(
            server, orb.BadRequestError, "400-constraint-violation",
            strict.invoices.update, issued.id, **{field: value}, metadata={"k": "v"},
        )  # fmt: skip
        assert field in body["detail"]
    assert strict.invoices.update(issued.id, due_date=None, net_terms=None).status == "issued"
    raw_rejected(server, "PUT", f"/invoices/{issued.id}", 400, "400-request-validation-errors",
                 json={"metadata": {"k": 5}})  # fmt: skip
    raw_rejected(server, "PUT", "/invoices/noSuchInvoice01", 404, "404-resource-not-found",
                 json={"metadata": {"k": "v"}})  # fmt: skip


def test_auto_issuance_false_makes_drafts_that_issue_by_hand(drafting_server: Server) -> None:
    server = drafting_server
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD", auto_issuance=False, timezone="Europe/Berlin")
    bought = purchase(strict, c.id, 10, "2", require_successful_payment=True,
                      invoice_date="2030-01-10", net_terms=10)  # fmt: skip
    [draft] = bought.created_invoices
    assert (draft.status, draft.issued_at, draft.will_auto_issue) == ("draft", None, False)
    assert draft.eligible_to_issue_at == draft.created_at
    assert strict.credit_blocks.retrieve(bought.credit_block.id).status == "pending_payment"
    assert [i.id for i in strict.invoices.list(customer_id=c.id)] == []
    assert [i.id for i in strict.invoices.list(customer_id=c.id, status=["draft"])] == [draft.id]
    rejected(server, orb.BadRequestError, "400-constraint-violation",
             strict.invoices.mark_paid, draft.id, payment_received_date="2030-01-11")  # fmt: skip
    rejected(server, orb.BadRequestError, "400-constraint-violation",
             strict.invoices.void, draft.id)  # fmt: skip

    redated = strict.invoices.update(draft.id, invoice_date="2030-02-01", auto_collection=True)
    assert redated.invoice_date == datetime(2030, 1, 31, 23, tzinfo=UTC)
    assert redated.due_date == datetime(2030, 2, 10, 23, tzinfo=UTC)  # net terms kept: 10 days
    assert redated.auto_collection.enabled is True
    assert redated.line_items[0].start_date == redated.invoice_date
    custom = strict.invoices.update(draft.id, due_date="2030-03-01")
    assert custom.due_date == datetime(2030, 2, 28, 23, tzinfo=UTC)
    moved = strict.invoices.update(draft.id, invoice_date="2030-02-15")
    assert moved.due_date == custom.due_date  # a custom due date stays put
    termed = strict.invoices.update(draft.id, net_terms=0)
    assert termed.due_date == termed.invoice_date

    issued = strict.invoices.issue(draft.id, synchronous=True)
    assert (issued.status, issued.eligible_to_issue_at) == ("issued", None)
    assert issued.issued_at is not None and issued.issued_at >= issued.created_at
    paid = strict.invoices.mark_paid(draft.id, payment_received_date="2030-02-16")
    assert paid.status == "paid"
    assert strict.credit_blocks.retrieve(bought.credit_block.id).status == "active"
    rejected(server, orb.BadRequestError, "400-constraint-violation",
             strict.invoices.issue, draft.id)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_date": "2030-01-01", "net_terms": 3}, "due_date"),
        ({"due_date": "2029-12-31"}, "due_date"),
        ({"invoice_date": "2031-01-01", "due_date": "2030-06-01"}, "due_date"),
        ({"net_terms": -1}, "net_terms"),
        ({"due_date": "someday"}, "due_date"),
        ({"net_terms": "5"}, "net_terms"),
    ],
)
def test_bad_draft_changes_are_refused(
    drafting_server: Server, body: dict[str, object], field: str
) -> None:
    server = drafting_server
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD", auto_issuance=False)
    draft = purchase(strict, c.id, 10, "1", invoice_date="2030-01-10").created_invoices[0]
    found = raw_rejected(server, "PUT", f"/invoices/{draft.id}", 400,
                         "400-request-validation-errors", json=body)  # fmt: skip
    assert found["validation_errors"][0]["field"] == field


def test_a_custom_due_date_refuses_a_later_invoice_date(drafting_server: Server) -> None:
    server = drafting_server
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD", auto_issuance=False)
    draft = purchase(strict, c.id, 10, "1", invoice_date="2030-01-10",
                     custom_due_date="2030-01-20").created_invoices[0]  # fmt: skip
    body = rejected(server, orb.BadRequestError, "400-request-validation-errors",
                    strict.invoices.update, draft.id, invoice_date="2030-02-01")  # fmt: skip
    assert body["validation_errors"][0]["field"] == "invoice_date"


def test_drafts_are_opt_in_only(drafting_server: Server) -> None:
    """Default customers (auto_issuance null or true) keep E28: invoices are issued, and
    issuing one is a constraint violation. Paid-at-creation invoices are never drafts, and
    top-ups always issue (nobody is there to approve an automatic purchase)."""
    server = drafting_server
    strict = server.client(_strict_response_validation=True)
    for auto_issuance in (None, True):
        c = customer(strict, currency="USD", auto_issuance=auto_issuance)
        [invoice] = purchase(strict, c.id, 10, "1").created_invoices
        assert (invoice.status, invoice.issued_at) == ("issued", invoice.created_at)
        rejected(server, orb.BadRequestError, "400-constraint-violation",
                 strict.invoices.issue, invoice.id)  # fmt: skip
    manual = customer(strict, currency="USD", auto_issuance=False)
    assert purchase(strict, manual.id, 10, "1", mark_as_paid=True).created_invoices[0].status \
        == "paid"  # fmt: skip
    assert purchase(strict, manual.id, 10, "0").created_invoices[0].status == "paid"
    strict.customers.credits.top_ups.create(
        manual.id, currency="credits", threshold="100", amount="5", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    fired = next(iter(strict.customers.credits.ledger.list(manual.id)))
    assert fired.created_invoices[0].status == "issued"


def test_by_default_auto_issuance_false_still_issues(server: Server) -> None:
    """R-INV-4: without `DRAWDOWN_DRAFT_INVOICES=manual_issuance`, `auto_issuance` is only
    stored and echoed (spec §2.1): the purchase invoice is issued, and E28 refuses it."""
    strict = server.client(_strict_response_validation=True)
    c = customer(strict, currency="USD", auto_issuance=False)
    [invoice] = purchase(strict, c.id, 10, "1").created_invoices
    assert (invoice.status, invoice.issued_at) == ("issued", invoice.created_at)
    rejected(server, orb.BadRequestError, "400-constraint-violation",
             strict.invoices.issue, invoice.id)  # fmt: skip
