"""Refunds (credit notes on credit purchases): credits in proportion to the money, exact once
the whole invoice is credited, taken only from what is left of the purchase."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.ledger import Decrement, Void
from drawdown.ledger.amounts import money_product
from drawdown.ledger.refunds import refund_voids, refundable, refunded_credits, share

from .support import Book, D, at, increment


def test_share_is_proportional_and_cut_down() -> None:
    assert share(D(100), D("10.00"), D("2.50")) == D(25)
    assert share(D(3), D("1.00"), D("1.00")) == D(3)  # 3 x 0.333 rounded to 1.00
    assert share(D(3), D("1.00"), D("0.50")) == D("1.5")
    assert share(D(1), D("3.00"), D("1.00")) == D("0.333333333333")  # cut, not rounded
    assert share(D(2), D("3.00"), D("2.00")) == D("1.333333333333")


def test_partial_notes_add_up_to_the_whole_purchase() -> None:
    notes = [D("1.00"), D("1.00"), D("1.00")]
    credited, shares = D(0), []
    for note in notes:
        shares.append(refunded_credits(D(1), D("3.00"), credited, note))
        credited += note
    assert shares == [D("0.333333333333"), D("0.333333333333"), D("0.333333333334")]
    assert sum(shares) == D(1)


money = st.decimals(min_value=D("0.01"), max_value=D(10_000), places=2)


@settings(max_examples=300, deadline=None)
@given(
    quantity=st.decimals(min_value=D("0.000001"), max_value=D(10**9), places=6),
    cost=st.decimals(min_value=D("0.0001"), max_value=D(100), places=4),
    cuts=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=8),
)
def test_shares_of_any_split_sum_to_the_quantity(
    quantity: Decimal, cost: Decimal, cuts: list[int]
) -> None:
    total = money_product(quantity, cost, 2)
    if total <= 0:
        return
    notes = _split(total, cuts)
    credited, shares = D(0), []
    for note in notes:
        shares.append(refunded_credits(quantity, total, credited, note))
        credited += note
    assert all(s >= 0 for s in shares)
    assert sum(shares) == quantity


def _split(total: Decimal, cuts: list[int]) -> list[Decimal]:
    """`total` in cents split into len(cuts) positive parts, proportional to `cuts`."""
    cents = int(total * 100)
    parts = [max(1, cents * c // sum(cuts)) for c in cuts][: max(1, cents)]
    parts[-1] += cents - sum(parts)
    while parts[-1] <= 0:  # the rounding gave the last part nothing: merge it back
        last = parts.pop()
        parts[-1] += last
    return [D(p) / 100 for p in parts]


def test_refund_takes_only_what_is_left_in_order() -> None:
    book = Book()
    book.do(increment("a", 100, cost="0.10"))
    book.do(increment("b", 40, cost="0.10"))
    book.do(Decrement(amount=D(70)))  # a is drawn first (same expiry and cost, effective first)
    a, b = book.block("a"), book.block("b")
    assert (refundable(a), refundable(b)) == (D(30), D(40))
    assert refund_voids([a, b], D(50)) == [("a", D(30)), ("b", D(20))]
    assert refund_voids([a, b], D(500)) == [("a", D(30)), ("b", D(40))]


def test_refundable_respects_the_void_limit_and_negative_blocks() -> None:
    book = Book()
    book.do(increment("a", 10))
    book.do(Void(block_id="a", amount=D(4), void_reason="refund"), at(1))
    assert refundable(book.block("a")) == D(6)
    book.do(Decrement(amount=D(20)), at(2))  # the rest of the decrement drives a negative
    assert book.block("a").balance == D(-14)
    assert refundable(book.block("a")) == D(0)
    assert refund_voids([book.block("a")], D(5)) == []
