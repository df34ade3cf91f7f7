"""The pure usage core: pricing (ledger/usage.py) and decrements for an item (block filters).

* property: over any sequence of deductions, Σ drawn + carry == Σ priced usage exactly, and
  every drawn amount fits the ledger's precision;
* property: a decrement for an item never touches a block whose filters exclude it, and
  draws exactly its amount;
* differential: random catalogues, events and blocks, priced and drawn by the core, against
  a deliberately naive model (Fractions, linear scans, its own sort) of pricing + drawdown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.ledger import Decrement, Filter
from drawdown.ledger.usage import (
    Catalogue,
    ChargeKey,
    InvalidMetric,
    Metric,
    PriceVersion,
    UsageEvent,
    parse_metric,
    price_events,
    quantity,
    split_deduction,
)

from .support import T0, Book, increment

ITEMS = ("a", "b", "c")
EVENT_NAMES = ("call", "job")
QUANTUM = Fraction(1, 10**12)

decimals = st.builds(lambda n, scale: Decimal(n).scaleb(-scale),
                     st.integers(0, 10**9), st.integers(0, 12))  # fmt: skip
minutes = st.integers(0, 600)


def _event(key: str, name: str, minute: int, value: Decimal) -> UsageEvent:
    return UsageEvent(key, name, T0 + timedelta(minutes=minute), {"n": value})


events_st = st.lists(
    st.builds(lambda i, name, minute, value: _event(f"e{i}", name, minute, value),
              st.integers(0, 10**6), st.sampled_from(EVENT_NAMES), minutes, decimals),
    max_size=30,
)  # fmt: skip
versions_st = st.lists(
    st.builds(
        lambda i, item, name, metric, rate, minute, currency: PriceVersion(
            f"p{i}", item, name, currency, metric, rate, T0 + timedelta(minutes=minute)),
        st.integers(0, 10**6), st.sampled_from(ITEMS), st.sampled_from(EVENT_NAMES),
        st.sampled_from([Metric("count"), Metric("sum", "n"), Metric("sum", "absent")]),
        decimals, minutes, st.sampled_from(["credits", "tokens"]),
    ),
    max_size=8, unique_by=lambda v: v.id,
)  # fmt: skip


def test_metrics_parse_and_count() -> None:
    assert parse_metric("count") == Metric("count")
    assert parse_metric("sum:seconds") == Metric("sum", "seconds")
    for bad in ("", "sum", "sum:", "max:x"):
        with pytest.raises(InvalidMetric):
            parse_metric(bad)
    seconds = Metric("sum", "s")
    assert quantity(Metric("count"), {}) == 1
    assert quantity(seconds, {"s": Decimal("1.5")}) == Decimal("1.5")
    assert quantity(seconds, {"s": 3}) == 3
    for ignored in ({}, {"s": "3"}, {"s": True}, {"s": Decimal(-1)}, {"s": Decimal("1E-13")}):
        assert quantity(seconds, ignored) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(decimals, max_size=5), max_size=12), decimals)
def test_drawn_plus_carry_is_priced_usage_exactly(
    batches: list[list[Decimal]], rate: Decimal
) -> None:
    price = PriceVersion("p", "a", "call", "credits", Metric("sum", "n"), rate, T0)
    catalogue = Catalogue([price])
    carry, drawn, priced = Decimal(0), Fraction(0), Fraction(0)
    for number, batch in enumerate(batches):
        events = [_event(f"{number}-{i}", "call", 1, v) for i, v in enumerate(batch)]
        charge = price_events(events, catalogue).get(ChargeKey("credits", "a"))
        priced += sum((Fraction(v) * Fraction(rate) for v in batch), Fraction(0))
        if charge is None:
            continue
        amount, carry = split_deduction(charge.amount, carry)
        assert (Fraction(amount) / QUANTUM).denominator == 1
        assert 0 <= carry < Decimal("1E-12")
        drawn += Fraction(amount)
    assert drawn + Fraction(carry) == priced
    assert drawn == priced - priced % QUANTUM


blocks_st = st.lists(
    st.tuples(
        st.integers(1, 100),  # balance
        st.one_of(st.none(), st.integers(1, 30)),  # expiry in days
        st.one_of(st.none(), st.sampled_from(["0", "0.1", "0.5"])),  # cost basis
        st.one_of(st.none(), st.tuples(st.sampled_from(["includes", "excludes"]),
                                       st.sets(st.sampled_from(ITEMS), min_size=1))),
    ),
    max_size=6,
)  # fmt: skip


def _book(blocks: list[tuple[int, int | None, str | None, tuple[str, set[str]] | None]]) -> Book:
    book = Book()
    for number, (balance, days, cost, scope) in enumerate(blocks):
        filters = () if scope is None else (Filter("item_id", scope[0], tuple(sorted(scope[1]))),)
        expiry = None if days is None else T0 + timedelta(days=days)
        book.do(increment(f"b{number}", balance, expiry=expiry, cost=cost, filters=filters))
    return book


@settings(max_examples=200, deadline=None)
@given(blocks_st, st.sampled_from(ITEMS), st.integers(1, 400))
def test_an_item_is_never_drawn_from_a_block_that_excludes_it(
    blocks: list[tuple[int, int | None, str | None, tuple[str, set[str]] | None]],
    item: str,
    amount: int,
) -> None:
    book = _book(blocks)
    outcome = book.do(Decrement(Decimal(amount), item_id=item), T0 + timedelta(hours=1))
    assert sum(e.amount for e in outcome.entries) == amount
    for entry in outcome.entries:
        assert outcome.state.blocks[entry.block_id].admits(item)


# --- the differential test -----------------------------------------------------------------


def _model_price(
    events: list[UsageEvent], versions: list[PriceVersion]
) -> dict[tuple[str, str], Fraction]:
    """Naive pricing: for every event and every (item, event name) line, the latest version
    not after the event, by a linear scan; exact Fractions."""
    totals: dict[tuple[str, str], Fraction] = {}
    lines = {(v.item_id, v.event_name) for v in versions}
    for event in events:
        for item, name in sorted(lines):
            if name != event.event_name:
                continue
            live = [v for v in versions if (v.item_id, v.event_name) == (item, name)
                    and v.effective_from <= event.timestamp]  # fmt: skip
            if not live:
                continue
            version = max(live, key=lambda v: (v.effective_from, v.id))
            value = event.properties.get(version.metric.property or "", None)
            units = Fraction(1) if version.metric.kind == "count" else Fraction(value or 0)
            key = (version.currency, item)
            totals[key] = totals.get(key, Fraction(0)) + units * Fraction(version.credits_per_unit)
    return totals


def _model_draw(
    blocks: list[list[object]], item: str, amount: Fraction
) -> list[tuple[str, Fraction]]:
    """Naive drawdown: blocks admitting the item, soonest expiry (never last), cheapest,
    oldest; take what each has; the rest to the last one (or a new deficit block)."""

    def admits(block: list[object]) -> bool:
        scope = block[4]
        return scope is None or ((item in scope[1]) == (scope[0] == "includes"))  # type: ignore[index]

    def key(block: list[object]) -> tuple[object, ...]:
        days, cost = block[2], block[3]
        return (days is None, days or 0, Fraction(cost or 0), block[5])  # type: ignore[arg-type]

    order = sorted((b for b in blocks if admits(b)), key=key)
    takes: dict[str, Fraction] = {}
    rest = amount
    for block in order:
        balance = block[1]
        assert isinstance(balance, Fraction)
        if rest > 0 and balance > 0:
            takes[str(block[0])] = min(rest, balance)
            rest -= takes[str(block[0])]
    if rest > 0:
        if not order:
            order = [["deficit", Fraction(0), None, None, None, len(blocks)]]
            blocks.append(order[0])
        last = str(order[-1][0])
        takes[last] = takes.get(last, Fraction(0)) + rest
    for block in blocks:
        block[1] = block[1] - takes.get(str(block[0]), Fraction(0))  # type: ignore[operator]
    return list(takes.items())


@settings(max_examples=150, deadline=None)
@given(versions_st, events_st, blocks_st)
def test_pricing_and_drawdown_match_a_naive_model(
    versions: list[PriceVersion],
    events: list[UsageEvent],
    blocks: list[tuple[int, int | None, str | None, tuple[str, set[str]] | None]],
) -> None:
    events = list({e.idempotency_key: e for e in events}.values())
    charges = price_events(events, Catalogue(versions))
    expected = _model_price(events, versions)
    assert {(k.currency, k.item_id): Fraction(c.amount) for k, c in charges.items()} == expected
    book = _book(blocks)
    model = [[f"b{n}", Fraction(b[0]), b[1], b[2], b[3], n] for n, b in enumerate(blocks)]
    now: datetime = T0 + timedelta(hours=1)
    for key in sorted(charges, key=lambda k: (k.currency, k.item_id)):
        if key.currency != "credits":
            continue
        amount, _ = split_deduction(charges[key].amount, Decimal(0))
        if amount == 0:
            continue
        outcome = book.do(Decrement(amount, item_id=key.item_id), now)
        got = [(e.block_id, Fraction(e.amount)) for e in outcome.entries]
        want = _model_draw(model, key.item_id, Fraction(amount))
        # The deficit block's id comes from the core's id generator (there is at most one:
        # it has no filters, so it admits every later item).
        assert [(b if b.startswith("b") else "deficit", a) for b, a in got] == want
