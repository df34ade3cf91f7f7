"""SQL for ledgers, credit blocks, ledger entries and the command log.

Blocks and entries are stored as the ledger core produced them; entries are only ever
inserted, except when a block deletion replays a ledger (docs/rules.md §4.14), which replaces that
ledger's derived rows wholesale. The write path reads the ledger head and the blocks that
are still open, never the entries: its cost does not grow with the ledger's history.
Statements on the write and list paths are prepared (`store/prepared.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from drawdown.ledger.amounts import FRACTION_DIGITS_MAX, format_decimal
from drawdown.ledger.model import Block, Entry, Filter, LedgerState
from drawdown.records import LedgerHead
from drawdown.store import ranks
from drawdown.store.cache import BatchCache, OpenBlocks
from drawdown.store.prepared import Prepared
from drawdown.store.schema import credit_blocks, customers, ledger_commands, ledger_entries, ledgers
from drawdown.store.sqlfuncs import before, compare, in_list
from drawdown.store.tx import Tx

_cb, _le, _lg = credit_blocks.c, ledger_entries.c, ledgers.c
_live_block = _cb.deleted_at.is_(None)

BLOCK_COLUMNS = (
    "id", "currency", "balance", "maximum_initial_balance", "moved_out", "voided", "expired",
    "effective_date", "expiry_date", "per_unit_cost_basis", "filters", "metadata", "status",
    "source", "created_seq", "created_at", "invoice_id", "top_up_id",
)  # fmt: skip
ENTRY_COLUMNS = (
    "id", "currency", "seq", "entry_type", "amount", "starting_balance", "ending_balance",
    "block_id", "created_at", "description", "metadata", "void_amount", "void_reason",
    "new_block_expiry_date", "hash",
)  # fmt: skip
_BLOCK_SELECT = tuple(_cb[name] for name in BLOCK_COLUMNS)
_ENTRY_SELECT = tuple(_le[name] for name in ENTRY_COLUMNS)


# --- rows <-> core objects -----------------------------------------------------------------


def block_of(tx: Tx, row: Sequence[Any]) -> Block:
    """A Block from a row of BLOCK_COLUMNS (raw driver values)."""
    c = tx.codec
    (block_id, currency, balance, maximum, moved_out, voided, expired, effective, expiry,
     cost_basis, filters, metadata, status, source, created_seq, created_at, invoice_id,
     top_up_id) = row  # fmt: skip
    return Block(
        id=block_id,
        currency=currency,
        balance=c.read_decimal(balance),
        maximum_initial_balance=c.read_decimal(maximum),
        moved_out=c.read_decimal(moved_out),
        voided=c.read_decimal(voided),
        expired=c.read_decimal(expired),
        effective_date=c.read_instant(effective),
        expiry_date=c.read_optional_instant(expiry),
        per_unit_cost_basis=None if cost_basis is None else Decimal(cost_basis),
        filters=tuple(
            Filter(f["field"], f["operator"], tuple(f["values"])) for f in c.read_json(filters)
        ),
        metadata=c.read_json(metadata),
        status=status,
        source=source,
        created_seq=int(created_seq),
        created_at=c.read_instant(created_at),
        invoice_id=invoice_id,
        top_up_id=top_up_id,
    )


def entry_of(tx: Tx, row: Sequence[Any]) -> Entry:
    """An Entry from a row of ENTRY_COLUMNS (raw driver values)."""
    c = tx.codec
    (entry_id, currency, seq, entry_type, amount, starting, ending, block_id, created_at,
     description, metadata, void_amount, void_reason, new_expiry, digest) = row  # fmt: skip
    return Entry.restore(
        id=entry_id,
        currency=currency,
        seq=int(seq),
        entry_type=entry_type,
        amount=c.read_decimal(amount),
        starting_balance=c.read_decimal(starting),
        ending_balance=c.read_decimal(ending),
        block_id=block_id,
        created_at=c.read_instant(created_at),
        description=description,
        metadata=c.read_json(metadata) or {},
        void_amount=c.read_optional_decimal(void_amount),
        void_reason=void_reason,
        new_block_expiry_date=c.read_optional_instant(new_expiry),
        hash=digest,
    )


AMOUNT_INTEGER_DIGITS = 31  # more than any stored amount has (ledger/amounts.py)


def amount_key(amount: Decimal) -> str:
    """A non-negative amount as text that sorts like the number: the integer part padded to
    a fixed width, then the canonical fraction ("12.5" -> "000…012.5")."""
    text = format_decimal(amount)
    assert not text.startswith("-"), "entry amounts are never negative"
    integer, dot, fraction = text.partition(".")
    return integer.rjust(AMOUNT_INTEGER_DIGITS, "0") + dot + fraction


_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
_NEVER_EXPIRES = "2" + "0" * 18


def _micros(instant: datetime) -> str:
    return f"{(instant - _YEAR_ONE) // timedelta(microseconds=1):018d}"


def draw_key(block: Block) -> str:
    """The block's place in drawdown order as text that sorts like `ordering.drawdown_key`
    (R-DED-2): expiry (never last), cost basis (null as 0), effective date, creation seq,
    id, each as fixed-width digits (the id is ASCII): byte order is drawdown order."""
    expiry = _NEVER_EXPIRES if block.expiry_date is None else "1" + _micros(block.expiry_date)
    cost = int((block.per_unit_cost_basis or Decimal(0)).scaleb(FRACTION_DIGITS_MAX))
    return f"{expiry}{cost:030d}{_micros(block.effective_date)}{block.created_seq:020d}{block.id}"


def is_closed(block: Block, now: datetime) -> bool:
    """Expired with nothing left: only a void naming it can change it again, so writes and
    the default block list need not read it. (An expired block in deficit stays open: it
    is still listed, R-LIST-1.)"""
    return block.expiry_date is not None and block.expiry_date <= now and block.balance == 0


def _block_values(tx: Tx, customer_id: str, block: Block, now: datetime) -> dict[str, Any]:
    c = tx.codec
    return {
        "customer_id": customer_id,
        "id": block.id,
        "currency": block.currency,
        "balance": c.decimal(block.balance),
        "maximum_initial_balance": c.decimal(block.maximum_initial_balance),
        "moved_out": c.decimal(block.moved_out),
        "voided": c.decimal(block.voided),
        "expired": c.decimal(block.expired),
        "effective_date": c.instant(block.effective_date),
        "expiry_date": c.instant(block.expiry_date),
        "per_unit_cost_basis": (
            str(block.per_unit_cost_basis) if block.per_unit_cost_basis is not None else None
        ),
        "filters": c.json(
            [
                {"field": f.field, "operator": f.operator, "values": list(f.values)}
                for f in block.filters
            ]
        ),
        "metadata": c.json(dict(block.metadata)),
        "status": block.status,
        "source": block.source,
        "created_seq": block.created_seq,
        "created_at": c.instant(block.created_at),
        "invoice_id": block.invoice_id,
        "top_up_id": block.top_up_id,
        "closed": c.boolean(is_closed(block, now)),
        "deleted_at": None,
        "draw_key": draw_key(block),
    }


def _block_changes(tx: Tx, customer_id: str, block: Block, now: datetime) -> dict[str, Any]:
    # Only the columns the core changes: rewriting key columns makes SQLite check the
    # foreign keys of every entry of the block.
    c = tx.codec
    return {
        "k_customer_id": customer_id,
        "k_id": block.id,
        "balance": c.decimal(block.balance),
        "moved_out": c.decimal(block.moved_out),
        "voided": c.decimal(block.voided),
        "expired": c.decimal(block.expired),
        "status": block.status,
        "closed": c.boolean(is_closed(block, now)),
        "draw_key": draw_key(block),
    }


def _entry_values(tx: Tx, customer_id: str, entry: Entry) -> dict[str, Any]:
    c = tx.codec
    return {
        "customer_id": customer_id,
        "id": entry.id,
        "currency": entry.currency,
        "seq": entry.seq,
        "entry_type": entry.entry_type,
        "amount": c.decimal(entry.amount),
        "amount_key": amount_key(entry.amount),
        "starting_balance": c.decimal(entry.starting_balance),
        "ending_balance": c.decimal(entry.ending_balance),
        "block_id": entry.block_id,
        "created_at": c.instant(entry.created_at),
        "description": entry.description,
        "metadata": c.json(dict(entry.metadata)),
        "void_amount": c.decimal(entry.void_amount),
        "void_reason": entry.void_reason,
        "new_block_expiry_date": c.instant(entry.new_block_expiry_date),
        "hash": entry.hash,
    }


# --- the write path --------------------------------------------------------------------------

_OPEN_BLOCKS = Prepared(
    lambda: select(*_BLOCK_SELECT).where(
        _cb.customer_id == bindparam("customer_id"),
        _cb.currency == bindparam("currency"),
        _cb.closed.is_(False),
        _live_block,
    )
)
_BLOCK_BY_ID = Prepared(
    lambda: select(*_BLOCK_SELECT).where(
        _cb.customer_id == bindparam("customer_id"), _cb.id == bindparam("id"), _live_block
    )
)
_ANY_BLOCK_BY_ID = Prepared(
    lambda: select(*_BLOCK_SELECT).where(
        _cb.customer_id == bindparam("customer_id"), _cb.id == bindparam("id")
    )
)
_INSERT_HEAD = Prepared(lambda: insert(ledgers), bulk_rank=ranks.LEDGER_INSERT)
_UPDATE_HEAD = Prepared(
    lambda: (
        update(ledgers)
        .where(
            _lg.customer_id == bindparam("k_customer_id"), _lg.currency == bindparam("k_currency")
        )
        .values(
            last_seq=bindparam("last_seq"),
            balance=bindparam("balance"),
            last_entry_at=bindparam("last_entry_at"),
            last_position=bindparam("last_position"),
            next_expiry_at=bindparam("next_expiry_at"),
            chain_head=bindparam("chain_head"),
        )
    ),
    bulk_rank=ranks.LEDGER_UPDATE,
)
_INSERT_BLOCK = Prepared(lambda: insert(credit_blocks), bulk_rank=ranks.BLOCK_INSERT)
_UPDATE_BLOCK = Prepared(
    lambda: (
        update(credit_blocks)
        .where(_cb.customer_id == bindparam("k_customer_id"), _cb.id == bindparam("k_id"))
        .values(
            balance=bindparam("balance"),
            moved_out=bindparam("moved_out"),
            voided=bindparam("voided"),
            expired=bindparam("expired"),
            status=bindparam("status"),
            closed=bindparam("closed"),
            draw_key=bindparam("draw_key"),
        )
    ),
    bulk_rank=ranks.BLOCK_UPDATE,
)
_INSERT_ENTRY = Prepared(lambda: insert(ledger_entries), bulk_rank=ranks.ENTRY_INSERT)
_INSERT_COMMAND = Prepared(lambda: insert(ledger_commands), bulk_rank=ranks.COMMAND_INSERT)


def create_head(tx: Tx, customer_id: str, currency: str, chain_head: str) -> LedgerHead:
    """A new, empty ledger (R-CUR-3: a ledger springs into existence when first written)."""
    params = {"customer_id": customer_id, "currency": currency, "last_seq": 0,
              "balance": tx.codec.decimal(Decimal(0)), "last_entry_at": None, "last_position": 0,
              "next_expiry_at": None, "top_up_id": None, "chain_head": chain_head}  # fmt: skip
    tx.write(_INSERT_HEAD, params)
    head = LedgerHead(currency, 0, Decimal(0), None, 0, None, None, chain_head)
    if tx.batch is not None:
        tx.batch.put_head(customer_id, head)
        tx.batch.blocks[(customer_id, currency)] = OpenBlocks({}, complete=True)
    return head


def open_blocks(tx: Tx, customer_id: str, currency: str) -> dict[str, Block]:
    """Every block of the ledger that is not closed: all a command can touch unless it
    names a closed block by id (see `block_by_id`). In a batch, from its cache."""
    cached = tx.batch.blocks.get((customer_id, currency)) if tx.batch is not None else None
    if cached is not None and cached.complete:
        return dict(cached.blocks)
    rows = tx.rows(_OPEN_BLOCKS, {"customer_id": customer_id, "currency": currency})
    blocks = {row[0]: block_of(tx, row) for row in rows}
    if tx.batch is not None:
        tx.batch.blocks[(customer_id, currency)] = OpenBlocks(dict(blocks), complete=True)
    return blocks


# Open blocks read at a time in drawdown order: most decrements draw from the first one or
# two, and most ledgers have fewer (then one page is all of them).
DRAW_PAGE = 8

_DRAW_PAGE_AFTER = Prepared(
    lambda: (
        select(_cb.draw_key, *_BLOCK_SELECT)
        .where(
            _cb.customer_id == bindparam("customer_id"),
            _cb.currency == bindparam("currency"),
            _cb.closed.is_(False),
            _cb.draw_key > bindparam("after"),
            _live_block,
        )
        .order_by(_cb.draw_key)
        .limit(bindparam("limit", type_=Integer))
    )
)


def first_open_blocks(tx: Tx, customer_id: str, currency: str) -> OpenBlocks:
    """The ledger's first open blocks in drawdown order (or all of them): a copy, from the
    batch's cache when it has them."""
    cached = tx.batch.blocks.get((customer_id, currency)) if tx.batch is not None else None
    if cached is not None:
        return OpenBlocks(dict(cached.blocks), cached.complete, cached.through)
    return next_open_blocks(tx, customer_id, currency, None)


def next_open_blocks(tx: Tx, customer_id: str, currency: str, through: str | None) -> OpenBlocks:
    """The open blocks that follow draw key `through` (from the first when None), a page of
    them: `complete` when no more follow. The batch's cache learns them too."""
    params = {"customer_id": customer_id, "currency": currency, "after": through or "",
              "limit": DRAW_PAGE + 1}  # fmt: skip
    rows = tx.rows(_DRAW_PAGE_AFTER, params)
    page = OpenBlocks({}, complete=len(rows) <= DRAW_PAGE, through=through)
    for row in rows[:DRAW_PAGE]:
        page.blocks[row[1]] = block_of(tx, row[1:])
        page.through = row[0]
    if tx.batch is not None:
        _learn(tx.batch, (customer_id, currency), page)
    return page


def _learn(cache: BatchCache, key: tuple[str, str], page: OpenBlocks) -> None:
    known = cache.blocks.get(key)
    if known is None:
        cache.blocks[key] = OpenBlocks(dict(page.blocks), page.complete, page.through)
        return
    if known.complete or (known.through or "") >= (page.through or ""):
        return
    for block_id, block in page.blocks.items():
        known.blocks.setdefault(block_id, block)  # a version a job wrote stays
    known.complete, known.through = page.complete, page.through


_COUNT_OPEN = Prepared(
    lambda: select(func.count()).where(
        _cb.customer_id == bindparam("customer_id"),
        _cb.currency == bindparam("currency"),
        _cb.closed.is_(False),
        _live_block,
    )
)


def count_open_blocks(tx: Tx, customer_id: str, currency: str) -> int:
    row = tx.one(_COUNT_OPEN, {"customer_id": customer_id, "currency": currency})
    return 0 if row is None else int(row[0])


def _first_pages(dialect: str) -> Any:
    """The first DRAW_PAGE + 1 open blocks of each ledger named, in drawdown order."""
    if dialect == "postgresql":
        texts = postgresql.ARRAY(String)
        ledgers = (
            func.unnest(
                bindparam("customer_ids", type_=texts), bindparam("currencies", type_=texts)
            )
            .table_valued("customer_id", "currency")
            .render_derived(name="l", with_types=False)
        )
        inner = (
            select(_cb.draw_key, *_BLOCK_SELECT)
            .where(_cb.customer_id == ledgers.c.customer_id, _cb.currency == ledgers.c.currency,
                   _cb.closed.is_(False), _live_block)
            .order_by(_cb.draw_key)
            .limit(bindparam("limit", type_=Integer))
            .lateral("b")
        )  # fmt: skip
        return select(ledgers.c.customer_id, inner).select_from(ledgers.join(inner, true()))
    return (
        select(_cb.customer_id, _cb.draw_key, *_BLOCK_SELECT)
        .where(_cb.customer_id == bindparam("customer_id"), _cb.currency == bindparam("currency"),
               _cb.closed.is_(False), _live_block)
        .order_by(_cb.draw_key)
        .limit(bindparam("limit", type_=Integer))
    )  # fmt: skip


_FIRST_PAGES = Prepared(_first_pages, per_dialect=True)


def load_open_blocks(tx: Tx, heads: Mapping[str, Iterable[str]]) -> None:
    """Load the first open blocks in drawdown order (or all) of every ledger named
    (customer id -> currencies) into the batch's cache: one query on PostgreSQL, one short
    indexed query per ledger on SQLite (no round trips there)."""
    assert tx.batch is not None
    ledgers = sorted((c, cur) for c, currencies in heads.items() for cur in currencies)
    if not ledgers:
        return
    if tx.postgres:
        rows = tx.rows(_FIRST_PAGES, {"customer_ids": [c for c, _ in ledgers],
                                      "currencies": [cur for _, cur in ledgers],
                                      "limit": DRAW_PAGE + 1})  # fmt: skip
    else:
        rows = [row for c, cur in ledgers
                for row in tx.rows(_FIRST_PAGES, {"customer_id": c, "currency": cur,
                                                  "limit": DRAW_PAGE + 1})]  # fmt: skip
    found: dict[tuple[str, str], list[Any]] = {ledger: [] for ledger in ledgers}
    for row in rows:
        found[(row[0], row[3])].append(row[1:])
    for ledger, page in found.items():
        view = OpenBlocks({}, complete=len(page) <= DRAW_PAGE)
        for row in page[:DRAW_PAGE]:
            view.blocks[row[1]] = block_of(tx, row[1:])
            view.through = row[0]
        tx.batch.blocks[ledger] = view


def block_by_id(
    tx: Tx, customer_id: str, block_id: str, *, deleted_too: bool = False
) -> Block | None:
    statement = _ANY_BLOCK_BY_ID if deleted_too else _BLOCK_BY_ID
    row = tx.one(statement, {"customer_id": customer_id, "id": block_id})
    return None if row is None else block_of(tx, row)


def persist(
    tx: Tx,
    customer_id: str,
    *,
    state: LedgerState,
    entries: Sequence[Entry],
    new_blocks: Sequence[Block],
    changed_blocks: Sequence[Block],
    head: LedgerHead,
    now: datetime,
) -> None:
    """Write what the core decided: new blocks, changed blocks, new entries, the head."""
    if tx.batch is not None:
        written = LedgerHead(
            state.currency, state.last_seq, state.balance, state.last_entry_at,
            head.last_position, head.next_expiry_at, head.top_up_id, state.chain_head,
        )  # fmt: skip
        _remember(tx.batch, customer_id, [*new_blocks, *changed_blocks], written, now)
    tx.write_many(_INSERT_BLOCK, [_block_values(tx, customer_id, b, now) for b in new_blocks])
    tx.write_many(_UPDATE_BLOCK, [_block_changes(tx, customer_id, b, now) for b in changed_blocks])
    tx.write_many(_INSERT_ENTRY, [_entry_values(tx, customer_id, e) for e in entries])
    c = tx.codec
    tx.write(
        _UPDATE_HEAD,
        {
            "k_customer_id": customer_id,
            "k_currency": state.currency,
            "last_seq": state.last_seq,
            "balance": c.decimal(state.balance),
            "last_entry_at": c.instant(state.last_entry_at),
            "last_position": head.last_position,
            "next_expiry_at": c.instant(head.next_expiry_at),
            "chain_head": state.chain_head,
        },
    )


def _remember(
    cache: BatchCache, customer_id: str, blocks: Sequence[Block], head: LedgerHead,
    now: datetime,
) -> None:  # fmt: skip
    """Keep the batch's cache equal to what `persist` writes: open blocks and the head."""
    cache.put_head(customer_id, head)
    known = cache.blocks.get((customer_id, head.currency))
    if known is None:
        return
    for block in blocks:
        if is_closed(block, now):
            known.blocks.pop(block.id, None)
        else:
            known.blocks[block.id] = block


def append_command(
    tx: Tx,
    customer_id: str,
    currency: str,
    position: int,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> None:
    c = tx.codec
    tx.write(
        _INSERT_COMMAND,
        {"customer_id": customer_id, "currency": currency, "position": position, "kind": kind,
         "payload": c.json(dict(payload)), "at": c.instant(at)},
    )  # fmt: skip


def set_top_up(tx: Tx, customer_id: str, currency: str, top_up_id: str | None) -> None:
    tx.execute(
        update(ledgers)
        .where(_lg.customer_id == customer_id, _lg.currency == currency)
        .values(top_up_id=top_up_id)
    )


def customers_with_due_expiries(tx: Tx, now: datetime, limit: int) -> list[str]:
    """Live customers whose ledgers have an expiry due (the sweep's work list)."""
    query = (
        select(_lg.customer_id)
        .join(customers, customers.c.id == _lg.customer_id)
        .where(_lg.next_expiry_at <= now, customers.c.deleted_at.is_(None))
        .distinct()
        .limit(limit)
    )
    return list(tx.execute(query).scalars())


# --- blocks by id, block lists ----------------------------------------------------------------

_FIND_BLOCK = Prepared(
    lambda: select(_cb.customer_id, *_BLOCK_SELECT).where(_cb.id == bindparam("id"), _live_block)
)


def find_block(tx: Tx, block_id: str) -> tuple[str, Block] | None:
    """(customer id, block) for a live block id of any customer."""
    row = tx.one(_FIND_BLOCK, {"id": block_id})
    return None if row is None else (row[0], block_of(tx, row[1:]))


def update_block_metadata(
    tx: Tx, customer_id: str, block_id: str, metadata: Mapping[str, str]
) -> None:
    tx.execute(
        update(credit_blocks)
        .where(_cb.customer_id == customer_id, _cb.id == block_id)
        .values(metadata=dict(metadata))
    )


_LEDGER_BLOCKS = Prepared(
    lambda: select(*_BLOCK_SELECT).where(
        _cb.customer_id == bindparam("customer_id"),
        _cb.currency == bindparam("currency"),
        _live_block,
    )
)


def ledger_blocks(tx: Tx, customer_id: str, currency: str, *, open_only: bool) -> list[Block]:
    """The ledger's live blocks; `open_only` leaves out closed ones (expired, none left)."""
    statement = _OPEN_BLOCKS if open_only else _LEDGER_BLOCKS
    rows = tx.rows(statement, {"customer_id": customer_id, "currency": currency})
    return [block_of(tx, row) for row in rows]


def blocks_by_id(tx: Tx, customer_id: str, block_ids: Iterable[str]) -> dict[str, Block]:
    ids = sorted(set(block_ids))
    if not ids:
        return {}
    query = select(*_BLOCK_SELECT).where(_cb.customer_id == customer_id, _cb.id.in_(ids))
    raw = tx.execute(query).all()
    return {row[0]: block_of(tx, _raw_row(tx, row)) for row in raw}


def _raw_row(tx: Tx, row: Sequence[Any]) -> tuple[Any, ...]:
    """A Core-processed block row back in driver form, so `block_of` reads both alike."""
    c = tx.codec
    values = list(row)
    for index in _BLOCK_DECIMALS:
        values[index] = c.decimal(values[index])
    for index in _BLOCK_INSTANTS:
        values[index] = c.instant(values[index])
    for index in _BLOCK_JSON:
        values[index] = c.json(values[index]) if tx.dialect == "sqlite" else values[index]
    return tuple(values)


_BLOCK_DECIMALS = [
    BLOCK_COLUMNS.index(n)
    for n in ("balance", "maximum_initial_balance", "moved_out", "voided", "expired")
]
_BLOCK_INSTANTS = [BLOCK_COLUMNS.index(n) for n in ("effective_date", "expiry_date", "created_at")]
_BLOCK_JSON = [BLOCK_COLUMNS.index(n) for n in ("filters", "metadata")]


# --- the ledger list (E10) -----------------------------------------------------------------


@dataclass(frozen=True)
class EntryFilters:
    """The E10 filters (R-LIST-3/4) with the keyset of the previous page's last entry."""

    currency: str | None = None
    entry_type: str | None = None
    pending: bool | None = None
    minimum_amount: Decimal | None = None
    created_at: Sequence[tuple[str, datetime]] = ()
    after: tuple[datetime, int, str] | None = None


def list_entries(
    tx: Tx, customer_id: str, filters: EntryFilters, *, now: datetime, limit: int
) -> list[tuple[Entry, Block]]:
    """Entries newest first (created_at desc, then sequence desc, R-SEQ-4, then id), each
    with its block: one prepared query for the page, one for its blocks."""
    page = page_entries(tx, customer_id, filters, now=now, limit=limit)
    blocks = blocks_of_entries(tx, customer_id, {entry.block_id for entry in page})
    return [(entry, blocks[entry.block_id]) for entry in page]


def page_entries(
    tx: Tx, customer_id: str, filters: EntryFilters, *, now: datetime, limit: int
) -> list[Entry]:
    """The entries of `list_entries`'s page, without their blocks."""
    statement, params = _page_query(tx, customer_id, filters, now, limit, narrow=False)
    return [entry_of(tx, row) for row in tx.rows(statement, params)]


def entry_keys(
    tx: Tx, customer_id: str, filters: EntryFilters, *, now: datetime, limit: int
) -> list[tuple[str, str]]:
    """The (id, hash) of each entry of the page `list_entries` reads, in its order: all a
    reader that has rendered the entries before needs (an entry's hash changes whenever
    its content does, so the pair names one content for good)."""
    statement, params = _page_query(tx, customer_id, filters, now, limit, narrow=True)
    return [(row[0], row[1]) for row in tx.rows(statement, params)]


_ENTRIES_BY_ID = Prepared(
    lambda dialect: select(*_ENTRY_SELECT).where(
        _le.customer_id == bindparam("customer_id"), in_list(_le.id, "ids", dialect)
    ),
    per_dialect=True,
)


def entries_by_id(tx: Tx, customer_id: str, entry_ids: Iterable[str]) -> dict[str, Entry]:
    """The customer's entries with these ids, in one statement."""
    ids = sorted(set(entry_ids))
    if not ids:
        return {}
    rows = tx.rows(_ENTRIES_BY_ID, {"customer_id": customer_id, "ids": tx.codec.texts(ids)})
    return {row[0]: entry_of(tx, row) for row in rows}


_BLOCKS_BY_ID = Prepared(
    lambda dialect: select(*_BLOCK_SELECT).where(
        _cb.customer_id == bindparam("customer_id"), in_list(_cb.id, "ids", dialect)
    ),
    per_dialect=True,
)


def blocks_of_entries(tx: Tx, customer_id: str, block_ids: Iterable[str]) -> dict[str, Block]:
    """The blocks entries name, deleted ones included (an entry's block is never removed): a
    page's entries share a few blocks, each read once, in one statement (one round trip
    for a page of many blocks, where a statement per block cost one each)."""
    ids = sorted(set(block_ids))
    if len(ids) == 1:  # the common page: one block, by its primary key
        block = block_by_id(tx, customer_id, ids[0], deleted_too=True)
        assert block is not None, "an entry's block is never removed"
        return {block.id: block}
    if not ids:
        return {}
    rows = tx.rows(_BLOCKS_BY_ID, {"customer_id": customer_id, "ids": tx.codec.texts(ids)})
    found = {row[0]: block_of(tx, row) for row in rows}
    assert len(found) == len(ids), "an entry's block is never removed"
    return found


def _page_query(
    tx: Tx, customer_id: str, filters: EntryFilters, now: datetime, limit: int, *, narrow: bool
) -> tuple[Prepared, dict[str, Any]]:
    minimum = filters.minimum_amount
    if minimum is not None and minimum <= 0:
        minimum = None  # entry amounts are never negative: every entry qualifies
    key = None if minimum is None else amount_key(minimum)
    shape = (
        filters.currency is not None,
        filters.entry_type is not None,
        filters.pending,
        None if key is None else _amount_plan(tx, customer_id, key),
        tuple(op for op, _ in filters.created_at),
        filters.after is not None,
        narrow,
    )
    c = tx.codec
    params: dict[str, Any] = {"customer_id": customer_id, "currency": filters.currency,
                              "entry_type": filters.entry_type, "now": c.instant(now),
                              "minimum_key": key, "limit": limit}  # fmt: skip
    for index, (_, value) in enumerate(filters.created_at):
        params[f"created_{index}"] = c.instant(value)
    if filters.after is not None:
        created_at, seq, entry_id = filters.after
        params.update(after_at=c.instant(created_at), after_seq=seq, after_id=entry_id)
    return _entries_statement(shape), params


def _indexed_by(index: str) -> Callable[[str], str]:
    def rewrite(sql: str) -> str:
        return sql.replace("FROM ledger_entries ", f"FROM ledger_entries INDEXED BY {index} ", 1)

    return rewrite


# A `minimum_amount` that at most this many entries meet is answered from the amount index
# (then sorted); a less selective one by scanning the list order, which finds a page soon.
SELECTIVE_MATCHES_MAX = 2_000

_COUNT_AT_LEAST = Prepared(
    lambda: select(func.count()).select_from(
        select(_le.id)
        .where(_le.customer_id == bindparam("customer_id"), _le.amount_key >= bindparam("key"))
        .limit(SELECTIVE_MATCHES_MAX + 1)
        .subquery()
    ),
    sqlite_rewrite=_indexed_by("ix_ledger_entries_amount"),
)


def _amount_plan(tx: Tx, customer_id: str, key: str) -> str:
    """How to answer a minimum_amount filter: "by_amount" or "by_list" (SQLite), "any"."""
    if not tx.postgres:
        row = tx.one(_COUNT_AT_LEAST, {"customer_id": customer_id, "key": key})
        assert row is not None
        return "by_amount" if int(row[0]) <= SELECTIVE_MATCHES_MAX else "by_list"
    return "any"  # PostgreSQL's planner has value statistics


def _scan_index(shape: tuple[Any, ...]) -> str:
    has_currency, has_type = shape[0], shape[1]
    if has_type:
        return "ix_ledger_entries_type"
    return "ix_ledger_entries_currency" if has_currency else "ix_ledger_entries_listing"


_ENTRY_STATEMENTS: dict[tuple[Any, ...], Prepared] = {}


def _entries_statement(shape: tuple[Any, ...]) -> Prepared:
    statement = _ENTRY_STATEMENTS.get(shape)
    if statement is None:
        plan = shape[3]
        rewrite = None
        if plan in ("by_amount", "by_list"):  # SQLite has no value statistics: we choose
            index = "ix_ledger_entries_amount" if plan == "by_amount" else _scan_index(shape)
            rewrite = _indexed_by(index)
        statement = Prepared(
            lambda dialect: _entries_query(shape, dialect), per_dialect=True,
            sqlite_rewrite=rewrite,
        )  # fmt: skip
        _ENTRY_STATEMENTS[shape] = statement
    return statement


def _entries_query(shape: tuple[Any, ...], dialect: str) -> Any:
    has_currency, has_type, pending, has_minimum, created_ops, has_after, narrow = shape
    query = select(_le.id, _le.hash) if narrow else select(*_ENTRY_SELECT)
    if pending is not None:  # pending-ness is the block's effective date (R-PEND-1)
        query = query.join(
            credit_blocks, and_(_cb.customer_id == _le.customer_id, _cb.id == _le.block_id)
        )
    query = query.where(_le.customer_id == bindparam("customer_id"))
    if has_currency:
        query = query.where(_le.currency == bindparam("currency"))
    if has_type:
        query = query.where(_le.entry_type == bindparam("entry_type"))
    if pending is not None:
        is_pending = and_(_le.entry_type == "increment", _cb.effective_date > bindparam("now"))
        query = query.where(is_pending if pending else ~is_pending)
    if has_minimum:
        query = query.where(_le.amount_key >= bindparam("minimum_key"))
    for index, op in enumerate(created_ops):
        query = query.where(compare(_le.created_at, op, bindparam(f"created_{index}")))
    if has_after:
        query = query.where(_before_keyset())
    order = (_le.created_at.desc(), _le.seq.desc(), _le.id.desc())
    return query.order_by(*order).limit(bindparam("limit", type_=Integer))


def _before_keyset() -> Any:
    """Entries after the cursor in list order: one row-value comparison, which both databases
    answer as a range of the listing index (an OR of three cases made them scan)."""
    after: tuple[Any, ...] = (bindparam("after_at"), bindparam("after_seq"), bindparam("after_id"))
    return before((_le.created_at, _le.seq, _le.id), after)


# --- the command log and replay (R-DEL-*) ----------------------------------------------------


def load_commands(tx: Tx, customer_id: str, currency: str) -> list[tuple[int, str, Any, datetime]]:
    """(position, kind, payload, at) of the ledger's command log, in order."""
    query = (
        select(ledger_commands.c.position, ledger_commands.c.kind, ledger_commands.c.payload,
               ledger_commands.c.at)
        .where(ledger_commands.c.customer_id == customer_id,
               ledger_commands.c.currency == currency)
        .order_by(ledger_commands.c.position)
    )  # fmt: skip
    return [(int(p), k, payload, at) for p, k, payload, at in tx.execute(query).all()]


_ENTRIES_IN_ORDER = Prepared(
    lambda: (
        select(*_ENTRY_SELECT)
        .where(_le.customer_id == bindparam("customer_id"), _le.currency == bindparam("currency"))
        .order_by(_le.seq)
    )
)


def ledger_entries_in_order(tx: Tx, customer_id: str, currency: str) -> Iterator[Entry]:
    """Every entry of a ledger by sequence number (verification reads it; writes never do)."""
    params = {"customer_id": customer_id, "currency": currency}
    for rows in tx.batches(_ENTRIES_IN_ORDER, params, size=1000):
        for row in rows:
            yield entry_of(tx, row)


def replace_ledger(
    tx: Tx,
    customer_id: str,
    currency: str,
    *,
    keep_positions: Sequence[int],
    deleted_block_ids: Sequence[str],
    state: LedgerState,
    entries: Sequence[Entry],
    next_expiry_at: datetime | None,
    now: datetime,
) -> None:
    """After a replay: drop removed commands, rewrite the ledger's blocks, entries and head."""
    lc = ledger_commands.c
    tx.execute(
        delete(ledger_commands).where(
            lc.customer_id == customer_id,
            lc.currency == currency,
            lc.position.not_in(list(keep_positions)),
        )
    )
    tx.execute(
        delete(ledger_entries).where(_le.customer_id == customer_id, _le.currency == currency)
    )
    tx.execute(
        update(credit_blocks)
        .where(_cb.customer_id == customer_id, _cb.id.in_(list(deleted_block_ids)))
        .values(deleted_at=now)
    )
    surviving = set(state.blocks)
    existing = {
        row[0]
        for row in tx.execute(
            select(_cb.id).where(
                _cb.customer_id == customer_id, _cb.currency == currency, _live_block
            )
        )
    }
    for stale in existing - surviving:
        tx.execute(delete(credit_blocks).where(_cb.customer_id == customer_id, _cb.id == stale))
    for block in state.blocks.values():
        values = _block_values(tx, customer_id, block, now)
        if block.id in existing:
            values.pop("metadata")  # block metadata is live (E21) and survives the replay
            changes = {k: v for k, v in values.items() if k not in ("customer_id", "id")}
            tx.write(_replay_update(tuple(changes)), {**changes, "k_customer_id": customer_id,
                                                      "k_id": block.id})  # fmt: skip
        else:
            tx.write(_INSERT_BLOCK, values)
    tx.write_many(_INSERT_ENTRY, [_entry_values(tx, customer_id, e) for e in entries])
    max_position = max(keep_positions, default=0)
    c = tx.codec
    tx.write(
        _UPDATE_HEAD,
        {
            "k_customer_id": customer_id, "k_currency": currency,
            "last_seq": state.last_seq, "balance": c.decimal(state.balance),
            "last_entry_at": c.instant(state.last_entry_at), "last_position": max_position,
            "next_expiry_at": c.instant(next_expiry_at), "chain_head": state.chain_head,
        },
    )  # fmt: skip


_REPLAY_UPDATES: dict[tuple[str, ...], Prepared] = {}


def _replay_update(columns: tuple[str, ...]) -> Prepared:
    statement = _REPLAY_UPDATES.get(columns)
    if statement is None:
        statement = Prepared(
            lambda: (
                update(credit_blocks)
                .where(_cb.customer_id == bindparam("k_customer_id"), _cb.id == bindparam("k_id"))
                .values({name: bindparam(name) for name in columns})
            )
        )
        _REPLAY_UPDATES[columns] = statement
    return statement


def balances(tx: Tx, customer_ids: Sequence[str]) -> dict[str, list[tuple[str, Decimal]]]:
    """Cached ledger balances per customer, as (currency, balance) sorted by currency."""
    result: dict[str, list[tuple[str, Decimal]]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return result
    query = (
        select(_lg.customer_id, _lg.currency, _lg.balance)
        .where(_lg.customer_id.in_(list(customer_ids)))
        .order_by(_lg.customer_id, _lg.currency)
    )
    for row in tx.execute(query):
        result[row.customer_id].append((row.currency, row.balance))
    return result


def ledger_keys(tx: Tx, customer_id: str | None) -> list[tuple[str, str]]:
    """(customer id, currency) of every ledger (of one customer), for verification."""
    query = select(_lg.customer_id, _lg.currency).order_by(_lg.customer_id, _lg.currency)
    if customer_id is not None:
        query = query.where(_lg.customer_id == customer_id)
    return [(row[0], row[1]) for row in tx.execute(query)]


def chain_heads(tx: Tx, customer_id: str) -> list[tuple[str, str]]:
    """(currency, newest entry hash) of each of the customer's ledgers."""
    query = (
        select(_lg.currency, _lg.chain_head)
        .where(_lg.customer_id == customer_id, _lg.chain_head.is_not(None))
        .order_by(_lg.currency)
    )
    return [(row[0], row[1]) for row in tx.execute(query)]


def ledger_head(tx: Tx, customer_id: str, currency: str) -> LedgerHead | None:
    """One ledger's head row as stored (verification compares it with the entries)."""
    query = select(
        _lg.currency, _lg.last_seq, _lg.balance, _lg.last_entry_at, _lg.last_position,
        _lg.next_expiry_at, _lg.top_up_id, _lg.chain_head,
    ).where(_lg.customer_id == customer_id, _lg.currency == currency)  # fmt: skip
    row = tx.execute(query).first()
    if row is None:
        return None
    currency, last_seq, balance, last_entry_at, position, next_expiry, top_up, chain = row
    return LedgerHead(currency, int(last_seq), Decimal(balance), last_entry_at, int(position),
                      next_expiry, top_up, chain)  # fmt: skip
