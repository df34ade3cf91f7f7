"""Ledger pages from per-entry templates (issue 20) are, byte for byte, what `entry_json`
writes for the same entries: every entry type, with the parts that can change (status, the
block, the customer, an increment's metadata and invoice) as they are now, with the memo
cold, warm, too small to hold a page, and after a block deletion rewrites the ledger; on
both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from conftest import BACKENDS
from drawdown.api.jsonio import dumps
from drawdown.api.schemas.ledger import EntryTemplate, entry_json, entry_template, page_json
from drawdown.services import customers
from drawdown.services.billing import invoices
from drawdown.services.context import ServiceContext
from drawdown.services.credits import blocks, entries, reads
from drawdown.services.credits.memo import EntryMemo
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from support.contexts import make_context

START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Ledger:
    ctx: ServiceContext
    ref: CustomerRef
    clock: list[datetime]
    bought: Any  # the purchase's entry view
    granted: Any  # a grant's entry view


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Ledger]:
    clock = [START]
    ctx = make_context(database_factory(request.param), lambda: clock[0])
    customer = customers.create_customer({"name": "Page", "email": "p@example.com",
                                          "currency": "USD"}).run(ctx)  # fmt: skip
    ref = CustomerRef(id=customer.id)

    def write(**body: Any) -> Any:
        clock[0] += timedelta(seconds=1)
        return entries.create_entry(ref, entry_request(body)).run(ctx)

    bought = write(entry_type="increment", amount=100, per_unit_cost_basis="0.10",
                   expiry_date="2099-01-01", metadata={"po": "1"},
                   invoice_settings={"auto_collection": False, "net_terms": 30})  # fmt: skip
    granted = write(entry_type="increment", amount=50, description="grant",
                    metadata={"why": "promo"})  # fmt: skip
    write(entry_type="increment", amount=5, effective_date="2026-06-01")  # pending until then
    used = write(entry_type="decrement", amount=45, description="usage",
                 metadata={"request": "r1"})  # fmt: skip
    write(entry_type="amendment", amount=1, block_id=used.block.id)
    write(entry_type="void", amount=60, block_id=used.block.id, void_reason="refund")  # past R
    write(entry_type="expiration_change", amount=3, block_id=granted.block.id,
          target_expiry_date="2098-01-01")  # fmt: skip
    write(
        entry_type="increment", amount=2, effective_date="2020-01-01", expiry_date="2020-06-01"
    )  # expires at once
    yield Ledger(ctx, ref, clock, bought, granted)
    ctx.keys.stop()
    ctx.db.close()


def _query(limit: int = 100, after: Any = None) -> reads.EntryQuery:
    return reads.EntryQuery(None, None, None, None, [], after, limit)


def _agree(ledger: Ledger, memo: EntryMemo[EntryTemplate], limit: int = 100) -> list[str]:
    """Page through the whole ledger both ways; the pages must be the same bytes."""
    after, seen = None, []
    while True:
        views = reads.list_entries(ledger.ctx, ledger.ref, _query(limit, after))
        page = reads.entry_page(ledger.ctx, ledger.ref, _query(limit, after), memo)
        assert [item.head.id for item in page] == [view.entry.id for view in views]
        assert dumps(page_json(page)) == dumps([entry_json(view) for view in views])
        seen += [view.entry.entry_type for view in views]
        if len(views) < limit:
            return seen
        last = views[-1].entry
        after = (last.created_at, last.seq, last.id)


def _counting() -> tuple[EntryMemo[EntryTemplate], list[str]]:
    computed: list[str] = []

    def compute(entry: Any) -> EntryTemplate:
        computed.append(entry.id)
        return entry_template(entry)

    return EntryMemo(compute, 1000), computed


def test_pages_are_the_bytes_entry_json_writes_cold_and_warm(ledger: Ledger) -> None:
    memo, computed = _counting()
    kinds = _agree(ledger, memo)
    assert set(kinds) == {"increment", "decrement", "amendment", "void", "void_initiated",
                          "expiration_change", "credit_block_expiry"}  # fmt: skip
    assert len(computed) == len(kinds) == len(memo)
    _agree(ledger, memo, limit=3)  # cursor pages, from the memo
    assert len(computed) == len(kinds)  # nothing read or rendered twice


def test_what_can_change_is_as_it_is_now(ledger: Ledger) -> None:
    memo, computed = _counting()
    _agree(ledger, memo)
    ctx, ref = ledger.ctx, ledger.ref
    bought, granted = ledger.bought.block, ledger.granted.block
    blocks.update_metadata(ref, bought.id, {"metadata": {"po": "2", "extra": "x"}}).run(ctx)
    blocks.update_metadata(ref, granted.id, {"metadata": None}).run(ctx)
    customers.update_customer(ref, {"external_customer_id": "page-2"}).run(ctx)  # was null
    invoice = ledger.bought.invoice
    assert invoice is not None
    invoices.mark_paid(ref, invoice.id, invoices.Payment("2026-03-02")).run(ctx)
    ledger.clock[0] = datetime(2026, 7, 1, tzinfo=UTC)  # the pending grant is in effect
    before = len(computed)
    _agree(ledger, memo)
    assert len(computed) == before  # every change was a live part
    page = reads.entry_page(ctx, ref, _query(), memo)
    assert {item.status for item in page} == {"committed"}
    listed = page_json(page)
    assert b'"external_customer_id":"page-2"' in bytes(dumps(listed))
    assert b'"status":"paid"' in bytes(dumps(listed))


def test_a_block_deletion_rewrites_what_the_memo_knew(ledger: Ledger) -> None:
    memo, computed = _counting()
    _agree(ledger, memo)
    known = len(computed)
    ctx, ref = ledger.ctx, ledger.ref
    blocks.delete_block(ref, ledger.granted.block.id).run(ctx)  # replays the ledger
    _agree(ledger, memo)
    assert len(computed) > known  # the replayed entries have new hashes: rendered anew


def test_new_entries_are_read_by_id_and_rendered_alone(ledger: Ledger) -> None:
    memo, computed = _counting()
    _agree(ledger, memo)
    known = len(computed)
    ledger.clock[0] += timedelta(seconds=5)
    entries.create_entry(ledger.ref, entry_request({"entry_type": "decrement", "amount": 1})).run(
        ledger.ctx
    )
    _agree(ledger, memo)  # one of ten entries unknown: read by its id
    assert len(computed) == known + 1


def test_a_memo_smaller_than_a_page(ledger: Ledger) -> None:
    memo = EntryMemo(entry_template, 2)
    _agree(ledger, memo)
    _agree(ledger, memo, limit=4)
    assert len(memo) == 2


def test_amounts_stay_exact(ledger: Ledger) -> None:
    entries.create_entry(ledger.ref, entry_request(
        {"entry_type": "increment", "amount": "0.000001"})).run(ledger.ctx)  # fmt: skip
    memo = EntryMemo(entry_template, 100)
    page = reads.entry_page(ledger.ctx, ledger.ref, _query(1), memo)
    assert b'"amount":0.000001' in dumps(page_json(page))
    assert Decimal("0.000001") == page[0].block.balance
