"""Reading a customer's credits: ledger entries (E10/E11), blocks (E8/E9), a block (E20/E23).

Each read is one snapshot transaction. R-TIME-1 comes first: when the customer's ledger
heads say an expiry is due, the expiries are written (one write job) before the read. In a
thread the read waits for that write itself; on the event loop, which runs the write, it
cannot, so it answers `CatchUpFirst` and its caller awaits the write and reads again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from drawdown.ledger import drawdown_order, entry_status
from drawdown.ledger.dates import resolve_bounds
from drawdown.ledger.model import Block
from drawdown.ledger.ordering import status_of
from drawdown.records import Customer
from drawdown.services.context import ServiceContext
from drawdown.services.credits.memo import EntryMemo
from drawdown.services.credits.views import BlockView, EntryView, PageEntry
from drawdown.services.currencies import iso_code
from drawdown.services.errors import ResourceNotFound
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    has_due_expiry,
)
from drawdown.store import credits as credits_store
from drawdown.store import customers as customer_store
from drawdown.store import invoices as invoice_store
from drawdown.store import ledger_tables as store
from drawdown.store.ledger_tables import EntryFilters
from drawdown.store.sqlfuncs import compare
from drawdown.store.tx import Tx

T = TypeVar("T")
M = TypeVar("M")
log = logging.getLogger("drawdown.expiry")


@dataclass(frozen=True)
class CatchUpFirst:
    """What a read answers instead of its view when the customer has due expiries and the
    read runs on the event loop: their write runs on that same loop, so it can only be
    awaited there. The caller awaits `catch_up_work(ref)` and reads again (`api/deps.read`
    does). A read in a thread writes the expiries itself and never answers this."""

    ref: CustomerRef


def _customer_unless_due(tx: Tx, ref: CustomerRef, now: datetime) -> Customer | CatchUpFirst:
    """The customer, or `CatchUpFirst` when its ledger heads say an expiry is due."""
    found = customer_store.with_heads(tx, customer_id=ref.id, external_id=ref.external_id,
                                      lock=False)  # fmt: skip
    if found is None:
        raise ResourceNotFound("Customer", ref.describe())
    customer, heads = found
    if has_due_expiry(heads, now):
        return CatchUpFirst(ref)
    return customer


def catch_up_work(ref: CustomerRef) -> Work[None]:
    """The customer's due expiries and the top-ups they trigger, as one write (R-TIME-1):
    the write path catches up and ends every customer write; the body adds nothing."""
    return customer_work(ref, _nothing)


def _nothing(_write: CustomerWrite) -> None:
    return None


def _caught_up(ctx: ServiceContext, attempt: Callable[[], T | CatchUpFirst]) -> T:
    """From a thread: `attempt()` (one snapshot), after writing any due expiry first and
    waiting for that write.

    After a catch-up the read takes a new "now", later than the catch-up's own, so what the
    catch-up wrote (a top-up block effective at its instant) is already in effect.
    """
    found = attempt()
    if isinstance(found, CatchUpFirst):
        catch_up_work(found.ref).run(ctx)
        found = attempt()
        assert not isinstance(found, CatchUpFirst), "expiries were just written"
    return found


def _here(ctx: ServiceContext, attempt: Callable[[], T | CatchUpFirst]) -> T | CatchUpFirst:
    """`attempt()` where the caller is: on the event loop the answer may be `CatchUpFirst`
    (the caller awaits the write), in a thread the expiries are written first."""
    return attempt() if ctx.db.on_loop_thread() else _caught_up(ctx, attempt)


def _read_unless_due(
    ctx: ServiceContext, ref: CustomerRef, read: Callable[[Tx, Customer, datetime], T]
) -> T | CatchUpFirst:
    now = ctx.now()
    with ctx.db.read() as tx:
        customer = _customer_unless_due(tx, ref, now)
        return customer if isinstance(customer, CatchUpFirst) else read(tx, customer, now)


def read_caught_up(
    ctx: ServiceContext, ref: CustomerRef, read: Callable[[Tx, Customer, datetime], T]
) -> T:
    """`read(tx, customer, now)` in one snapshot, after writing any due expiry (R-TIME-1);
    from a thread, which waits for that write."""
    return _caught_up(ctx, lambda: _read_unless_due(ctx, ref, read))


# --- entries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryQuery:
    currency: str | None
    entry_type: str | None
    entry_status: str | None
    minimum_amount: Decimal | None
    created_at: Sequence[tuple[str, str]]
    after: tuple[datetime, int, str] | None
    limit: int


def list_entries(
    ctx: ServiceContext, ref: CustomerRef, query: EntryQuery
) -> list[EntryView] | CatchUpFirst:
    return _here(ctx, lambda: _read_unless_due(ctx, ref, entries_of(query)))


def entries_of(query: EntryQuery) -> Callable[[Tx, Customer, datetime], list[EntryView]]:
    """The page `query` asks for, as a read for `read_caught_up`."""
    return lambda tx, customer, now: entries_in(tx, customer, query, now)


def entries_in(tx: Tx, customer: Customer, query: EntryQuery, now: datetime) -> list[EntryView]:
    """One page of the customer's entries with their blocks and purchase invoices."""
    rows = store.list_entries(tx, customer.id, _filters(customer, query), now=now,
                              limit=query.limit)  # fmt: skip
    bought = [b.id for e, b in rows if e.entry_type == "increment" and b.invoice_id]
    invoices = {i.block_id: i for i in invoice_store.for_blocks(tx, customer.id, bought)}
    return [
        EntryView(e, b, customer, entry_status(e, b, now), invoices.get(b.id))
        if e.entry_type == "increment"
        else EntryView(e, b, customer, entry_status(e, b, now))
        for e, b in rows
    ]


def entry_page(
    ctx: ServiceContext, ref: CustomerRef, query: EntryQuery, memo: EntryMemo[M]
) -> list[PageEntry[M]] | CatchUpFirst:
    """`list_entries` for a reader that keeps a memo of each entry (the API's ledger page):
    the page's (id, hash) pairs are read, then only the entries the memo lacks, then the
    page's blocks and purchase invoices as they are now."""

    def page(tx: Tx, customer: Customer, now: datetime) -> list[PageEntry[M]]:
        return _page(tx, customer, query, now, memo)

    return _here(ctx, lambda: _read_unless_due(ctx, ref, page))


def _page(
    tx: Tx, customer: Customer, query: EntryQuery, now: datetime, memo: EntryMemo[M]
) -> list[PageEntry[M]]:
    filters = _filters(customer, query)
    keys = store.entry_keys(tx, customer.id, filters, now=now, limit=query.limit)
    found, missing = {}, []
    for key in keys:
        hit = memo.get(key)
        if hit is None:
            missing.append(key[0])
        else:
            found[key] = hit
    if len(missing) > len(keys) // 2:  # a page not seen yet: reading it again is cheaper
        read = store.page_entries(tx, customer.id, filters, now=now, limit=query.limit)
        found.update(memo.add(e for e in read if (e.id, e.hash) not in found))
    elif missing:
        found.update(memo.add(store.entries_by_id(tx, customer.id, missing).values()))
    heads = [found[key] for key in keys]
    blocks = store.blocks_of_entries(tx, customer.id, {head.block_id for head, _ in heads})
    bought = [head.block_id for head, _ in heads
              if head.entry_type == "increment" and blocks[head.block_id].invoice_id]  # fmt: skip
    invoices = ({i.block_id: i for i in invoice_store.for_blocks(tx, customer.id, bought)}
                if bought else {})  # fmt: skip
    page = []
    for head, computed in heads:
        block = blocks[head.block_id]
        status = status_of(head.entry_type, block, now)
        page.append(PageEntry(head, computed, block, customer, status,
                              invoices.get(block.id)))  # fmt: skip
    return page


def _filters(customer: Customer, query: EntryQuery) -> EntryFilters:
    return EntryFilters(
        currency=listing_currency(query.currency),
        entry_type=query.entry_type,
        pending=None if query.entry_status is None else query.entry_status == "pending",
        minimum_amount=query.minimum_amount,
        created_at=resolve_bounds(query.created_at, customer.timezone, field="created_at"),
        after=query.after,
    )


def listing_currency(value: str | None) -> str | None:
    """For listing, a real currency that is not the customer's simply matches nothing (R-CUR-2)."""
    if value is None:
        return None
    code = iso_code(value)
    return code if code is not None else value


# --- blocks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockQuery:
    currency: str | None
    include_all_blocks: bool
    effective_date: Sequence[tuple[str, str]]


def list_blocks(
    ctx: ServiceContext, ref: CustomerRef, query: BlockQuery
) -> list[Block] | CatchUpFirst:
    """The ledger's blocks in drawdown order (Q15), filtered per R-LIST-1 and effective_date:
    one statement (`store/credits.py`), after writing any due expiry."""

    def attempt() -> list[Block] | CatchUpFirst:
        now = ctx.now()
        with ctx.db.read() as tx:
            found = credits_store.customer_and_blocks(
                tx, customer_id=ref.id, external_id=ref.external_id,
                currency=listing_currency(query.currency) or "credits",
                # Closed blocks (expired, nothing left) are never listed by default.
                open_only=not query.include_all_blocks,
            )  # fmt: skip
        if found is None:
            raise ResourceNotFound("Customer", ref.describe())
        customer, heads, blocks = found
        if has_due_expiry(heads, now):
            return CatchUpFirst(ref)
        return shown_blocks(customer, blocks, query, now)

    return _here(ctx, attempt)


def blocks_in(tx: Tx, customer: Customer, query: BlockQuery, now: datetime) -> list[Block]:
    currency = listing_currency(query.currency) or "credits"
    blocks = store.ledger_blocks(tx, customer.id, currency,
                                 open_only=not query.include_all_blocks)  # fmt: skip
    return shown_blocks(customer, blocks, query, now)


def shown_blocks(
    customer: Customer, blocks: list[Block], query: BlockQuery, now: datetime
) -> list[Block]:
    bounds = resolve_bounds(query.effective_date, customer.timezone, field="effective_date")
    shown = [b for b in blocks if query.include_all_blocks or listed_by_default(b, now)]
    shown = [b for b in shown if all(compare(b.effective_date, op, v) for op, v in bounds)]
    return drawdown_order(shown)


def listed_by_default(block: Block, now: datetime) -> bool:
    """R-LIST-1: a non-zero balance and not expired, or any negative balance."""
    if block.balance < 0:
        return True
    return block.balance != 0 and not block.is_expired(now)


def owner_of_block(ctx: ServiceContext, block_id: str) -> CustomerRef:
    """The customer a block belongs to (never changes), or 404 (also for deleted ones)."""
    with ctx.db.read() as tx:
        return CustomerRef(id=_live_block_owner(tx, block_id).id)


def _live_block_owner(tx: Tx, block_id: str) -> Customer:
    found = store.find_block(tx, block_id)
    customer = None if found is None else customer_store.get(tx, found[0])
    if customer is None:
        raise ResourceNotFound("CreditBlock", block_id)
    return customer


def get_block(ctx: ServiceContext, block_id: str) -> BlockView | CatchUpFirst:
    """E20/E23: the block, its customer and the invoices that charged for it."""

    def attempt() -> BlockView | CatchUpFirst:
        with ctx.db.read() as tx:
            owner = CustomerRef(id=_live_block_owner(tx, block_id).id)
            customer = _customer_unless_due(tx, owner, ctx.now())
            if isinstance(customer, CatchUpFirst):
                return customer
            return _block_view(tx, customer, block_id)

    return _here(ctx, attempt)


def _block_view(tx: Tx, customer: Customer, block_id: str) -> BlockView:
    block = store.block_by_id(tx, customer.id, block_id)
    if block is None:
        raise ResourceNotFound("CreditBlock", block_id)
    return BlockView(block, customer, tuple(invoice_store.for_blocks(tx, customer.id, [block_id])))


def sweep_expiries(ctx: ServiceContext, batch: int = 500) -> int:
    """`drawdown expire`: materialize due expiries of every customer; returns customers swept.

    Logs how many expiries it wrote: at info when it wrote some, else at debug."""
    swept = written = 0
    while True:
        with ctx.db.read() as tx:
            due = store.customers_with_due_expiries(tx, ctx.now(), batch)
        for customer_id in due:
            # From a thread (the CLI, the console's report): `run` waits for the write.
            written += customer_work(CustomerRef(id=customer_id), expiries_caught_up).run(ctx)
            swept += 1
        if len(due) < batch:
            break
    level = logging.INFO if written else logging.DEBUG
    log.log(level, "expiry sweep: wrote %d credit_block_expiry entries for %d customer(s)",
            written, swept, extra={"expiries": written, "customers": swept})  # fmt: skip
    return swept


def expiries_caught_up(write: CustomerWrite) -> int:
    """How many expiry entries the write path's catch-up wrote before this body ran (call it
    first): the blocks of the ledgers it changed that are expired with credits removed by
    their expiry. Only open blocks are loaded, and a block expiring with credits left is
    open until that expiry takes them (then it is closed, R-EXPY), so each such block is
    one entry this transaction wrote."""
    return sum(
        1
        for currency in sorted(write.changed)
        for block in write.state(currency).blocks.values()
        if block.is_expired(write.now) and block.expired > 0
    )
