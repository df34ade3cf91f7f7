"""A write reads only the blocks it needs (issue 23), and that changes nothing it decides.

* `draw_key` sorts blocks exactly like the core's drawdown order (R-DED-2), which is what
  lets the database hand a decrement the first open blocks in that order;
* differential: random command sequences run twice through the real write path on a real
  database, once reading open blocks a page of two at a time and once reading them all; the
  stored ledgers (entries, balances, blocks) come out identical after every command;
* a decrement on a ledger of 10,000 open blocks reads as few blocks as on a ledger of ten.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.ledger import drawdown_order
from drawdown.ledger.model import Block
from drawdown.services import customers
from drawdown.services.credits import entries
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store import ledger_tables as ledger_store
from support.contexts import make_context

T0 = datetime(2030, 1, 1, tzinfo=UTC)
COSTS = (None, "0", "0.10", "0.25", "1.5")


# --- the key -------------------------------------------------------------------------------

_instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def _blocks(draw: Any) -> Block:
    effective = draw(_instants)
    expiry = draw(st.none() | _instants.filter(lambda t: t > effective))
    cost = draw(st.none() | st.decimals(min_value=0, max_value=10**17, places=3))
    return Block(
        id=draw(st.text("ABCabc0189", min_size=16, max_size=16)), currency="credits",
        balance=Decimal(1), maximum_initial_balance=Decimal(1), moved_out=Decimal(0),
        voided=Decimal(0), effective_date=effective, expiry_date=expiry,
        per_unit_cost_basis=cost, filters=(), metadata={}, status="active", source="manual",
        created_seq=draw(st.integers(min_value=1, max_value=10**15)), created_at=effective,
        invoice_id=None, top_up_id=None,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_blocks(), min_size=2, max_size=12, unique_by=lambda b: b.id))
def test_draw_keys_sort_like_drawdown_order(blocks: list[Block]) -> None:
    assert sorted(blocks, key=ledger_store.draw_key) == drawdown_order(blocks)


# --- differential ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _context(url: str) -> tuple[Any, Clock]:
    clock = Clock()
    counter = itertools.count()
    ctx = make_context(url, clock, sqlite_synchronous="OFF")
    return dataclasses.replace(ctx, new_id=lambda: f"id{next(counter):014d}"), clock


def _ledger(ctx: Any, customer_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with ctx.db.read() as tx:
        entries_ = [
            (e.seq, e.entry_type, e.amount, e.block_id, e.ending_balance, e.created_at)
            for e in ledger_store.ledger_entries_in_order(tx, customer_id, "credits")
        ]
        blocks = sorted((b.id, b.balance, b.expired, b.voided)
                        for b in ledger_store.ledger_blocks(tx, customer_id, "credits",
                                                            open_only=False))  # fmt: skip
    return entries_, blocks


def _fields(clock: Clock, rng: random.Random, blocks: list[str]) -> dict[str, Any] | None:
    """One random request (None: time passes instead)."""
    kind = rng.choice(("increment", "increment", "decrement", "decrement", "void", "wait"))
    if kind == "wait":
        clock.now += timedelta(hours=rng.randint(1, 30))
        return None
    if kind == "void" and blocks:
        return {"entry_type": "void", "block_id": rng.choice(blocks),
                "amount": Decimal(rng.randint(1, 5))}  # fmt: skip
    if kind == "decrement" and blocks:
        return {"entry_type": "decrement", "amount": Decimal(rng.randint(1, 90))}
    fields: dict[str, Any] = {"entry_type": "increment", "amount": Decimal(rng.randint(1, 40))}
    if rng.random() < 0.7:
        fields["expiry_date"] = (clock.now + timedelta(hours=rng.randint(1, 200))).isoformat()
    if rng.random() < 0.2:
        fields["effective_date"] = (clock.now + timedelta(hours=rng.randint(1, 20))).isoformat()
    if (cost := rng.choice(COSTS)) is not None:
        fields["per_unit_cost_basis"] = cost
    return fields


def _send(ctx: Any, ref: CustomerRef, fields: dict[str, Any], blocks: list[str]) -> str:
    try:
        made = entries.create_entry(ref, entry_request(fields)).run(ctx)
    except Exception as error:  # a refusal (a void too large): the same in both runs
        assert getattr(error, "kind", None) in ("constraint", "validation", "not_found"), error
        return f"refused: {error}"
    if made.entry.entry_type == "increment":
        blocks.append(made.entry.block_id)
    return made.entry.id


@pytest.fixture(params=["sqlite", "postgres"])
def two_contexts(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Any]:
    made = [_context(database_factory(request.param)) for _ in range(2)]
    yield made
    for ctx, _ in made:
        ctx.keys.stop()
        ctx.db.close()


def test_a_page_at_a_time_decides_exactly_what_all_at_once_does(
    two_contexts: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same ids, same clock, same requests: one run reads open blocks two at a time, the
    other all at once; after every request both ledgers are the same, row for row."""
    (paged, paged_clock), (whole, whole_clock) = two_contexts
    for seed in range(6):
        refs = [CustomerRef(id=customers.create_customer({"name": "P", "email": "p@x.test"})
                            .run(ctx).id) for ctx in (paged, whole)]  # fmt: skip
        assert refs[0] == refs[1]
        rng, blocks = random.Random(seed), [[], []]
        for _ in range(70):
            fields = _fields(paged_clock, rng, blocks[0])
            whole_clock.now = paged_clock.now
            if fields is None:
                continue
            results = []
            for index, (ctx, page) in enumerate(((paged, 2), (whole, 10**9))):
                monkeypatch.setattr(ledger_store, "DRAW_PAGE", page)
                results.append(_send(ctx, refs[index], fields, blocks[index]))
            assert results[0] == results[1], (seed, fields)
            assert _ledger(paged, refs[0].id or "") == _ledger(whole, refs[1].id or ""), seed
        assert len(blocks[0]) > 8  # enough blocks that paging mattered


# --- cost -----------------------------------------------------------------------------------


def _blocks_read_by_a_decrement(ctx: Any, ref: CustomerRef, monkeypatch: Any) -> int:
    read = 0
    block_of = ledger_store.block_of

    def counting(tx: Any, row: Any) -> Block:
        nonlocal read
        read += 1
        return block_of(tx, row)

    monkeypatch.setattr(ledger_store, "block_of", counting)
    decrement = entry_request({"entry_type": "decrement", "amount": Decimal(3)})
    entries.create_entry(ref, decrement).run(ctx)
    monkeypatch.setattr(ledger_store, "block_of", block_of)
    return read


@pytest.mark.slow  # writes a ledger of 10,000 blocks
def test_a_decrement_reads_as_few_blocks_at_ten_thousand_as_at_ten(
    database_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _clock = _context(database_factory("sqlite"))
    try:
        counts = []
        for size in (10, 10_000):
            ref = CustomerRef(id=customers.create_customer({"name": "B", "email": "b@x.test"})
                              .run(ctx).id)  # fmt: skip
            for n in range(size):
                expiry = (T0 + timedelta(days=1 + n % 500)).isoformat()
                entries.create_entry(ref, entry_request({
                    "entry_type": "increment", "amount": Decimal(5), "expiry_date": expiry,
                })).run(ctx)  # fmt: skip
            counts.append(_blocks_read_by_a_decrement(ctx, ref, monkeypatch))
        assert counts[0] == counts[1] <= ledger_store.DRAW_PAGE, counts
    finally:
        ctx.keys.stop()
        ctx.db.close()
