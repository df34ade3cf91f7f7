"""Rules of docs/rules.md §4.1-4.9 owned by the core: balances, sequences, pending, increments,
decrements, negative balances and expiry. Test names carry the rule id."""

from __future__ import annotations

import pytest

from drawdown.ledger import (
    AmountNotPositive,
    CostBasisNegative,
    Decrement,
    ExpiryNotAfterEffective,
    LedgerState,
    apply,
    drawable_balance,
    drawdown_order,
    entry_status,
    expiry_entry_id,
)

from .support import T0, Book, Counter, D, at, increment, summary


def worked_example_book() -> Book:
    book = Book()
    book.do(increment("A", 30, expiry=at(31), cost="0.00"), at(-10))
    book.do(increment("B", 50, expiry=at(31), cost="0.10"), at(-10))
    book.do(increment("C", 100, cost="0.10"), at(-10))
    return book


# --- §4.7 worked example, R-DED-* -----------------------------------------------------------


def test_R_DED_worked_example_exactly() -> None:
    book = worked_example_book()
    now = at(4, 12)  # 2024-03-05T12:00Z
    first = book.do(Decrement(D(100), description="usage"), now)
    assert summary(first.entries) == [
        (4, "decrement", "A", D(30), D(180), D(150)),
        (5, "decrement", "B", D(50), D(150), D(100)),
        (6, "decrement", "C", D(20), D(100), D(80)),
    ]
    assert first.response == first.entries[-1]
    second = book.do(Decrement(D(200)), now)
    assert summary(second.entries) == [(7, "decrement", "C", D(200), D(80), D(-120))]
    assert book.balances() == {"A": D(0), "B": D(0), "C": D(-120)}
    assert book.state.balance == D(-120)


def test_R_DED_1_never_draws_pending_future_expired_blocks() -> None:
    book = Book()
    book.do(increment("future", 10, effective=at(5)))
    book.do(increment("unpaid", 10, status="pending_payment"))
    book.do(increment("expired", 10, effective=at(-5), expiry=at(-1)))
    book.do(increment("ok", 10))
    outcome = book.do(Decrement(D(15)))
    assert [(e.block_id, e.amount) for e in outcome.entries] == [("ok", D(15))]
    assert book.balances() == {"future": D(10), "unpaid": D(10), "expired": D(0), "ok": D(-5)}


def test_R_DED_2_order_expiry_then_cost_then_effective_then_creation() -> None:
    book = Book()
    book.do(increment("never", 1, cost="0"))
    book.do(increment("late", 1, expiry=at(20)))
    book.do(increment("paid", 1, expiry=at(10), cost="0.5"))
    book.do(increment("free", 1, expiry=at(10)))  # null cost counts as 0
    book.do(increment("older", 1, expiry=at(10), cost="0.5", effective=at(-1)))
    book.do(increment("paid2", 1, expiry=at(10), cost="0.5"))
    order = [b.id for b in drawdown_order(book.state.blocks.values())]
    assert order == ["free", "older", "paid", "paid2", "late", "never"]
    outcome = book.do(Decrement(D(6)))
    assert [e.block_id for e in outcome.entries] == order


def test_R_DED_3_one_entry_per_block_in_walk_order_consecutive_seqs() -> None:
    book = Book()
    book.do(increment("x", "2.5", expiry=at(3)))
    book.do(increment("y", 5))
    outcome = book.do(Decrement(D("3.75")))
    assert summary(outcome.entries) == [
        (3, "decrement", "x", D("2.5"), D("7.5"), D("5.0")),
        (4, "decrement", "y", D("1.25"), D("5.0"), D("3.75")),
    ]


def test_R_DED_4_uncovered_rest_goes_to_last_drawable_block() -> None:
    book = Book()
    book.do(increment("soon", 10, expiry=at(3)))
    book.do(increment("last", 5))
    book.do(Decrement(D(7)), at(0))  # soon: 3 left
    book.do(Decrement(D(5)), at(0))  # soon 3 -> 0, last 5 -> 3
    outcome = book.do(Decrement(D(10)), at(1))
    # "last" was touched by the walk and takes the rest too: one entry carrying both parts.
    assert summary(outcome.entries) == [(6, "decrement", "last", D(10), D(3), D(-7))]


def test_R_DED_4_last_drawable_block_charged_even_when_already_negative() -> None:
    book = Book()
    book.do(increment("a", 5, expiry=at(3)))
    book.do(increment("b", 1))
    book.do(Decrement(D(10)))
    assert book.balances() == {"a": D(0), "b": D(-4)}
    book.do(increment("c", 2, expiry=at(2)))
    outcome = book.do(Decrement(D(3)))
    assert [(e.block_id, e.amount) for e in outcome.entries] == [("c", D(2)), ("b", D(1))]
    assert book.balances() == {"a": D(0), "b": D(-5), "c": D(0)}


def test_R_DED_4_deficit_block_when_nothing_is_drawable() -> None:
    book = Book()
    book.do(increment("future", 10, effective=at(5)))
    outcome = book.do(Decrement(D(4), metadata={"k": "v"}), at(1))
    (deficit,) = [b for b in outcome.changed_blocks if b.id != "future"]
    assert deficit.id == "id-1"
    assert deficit.balance == D(-4) and deficit.maximum_initial_balance == D(0)
    assert deficit.ceiling == D(0) and deficit.expiry_date is None
    assert deficit.effective_date == at(1) and deficit.per_unit_cost_basis is None
    assert deficit.filters == () and deficit.metadata == {} and deficit.source == "manual"
    assert deficit.status == "active" and deficit.created_seq == 2
    assert summary(outcome.entries) == [(2, "decrement", "id-1", D(4), D(10), D(6))]
    assert outcome.entries[0].metadata == {"k": "v"}


def test_R_DED_5_response_is_last_entry_and_entries_share_text_and_time() -> None:
    book = worked_example_book()
    outcome = book.do(Decrement(D(100), description="d", metadata={"a": "1"}), at(2))
    assert outcome.response is outcome.entries[-1]
    assert {(e.description, e.created_at) for e in outcome.entries} == {("d", at(2))}
    assert all(e.metadata == {"a": "1"} for e in outcome.entries)


def test_R_DED_6_decrement_amount_must_be_positive() -> None:
    book = worked_example_book()
    with pytest.raises(AmountNotPositive) as raised:
        book.do(Decrement(D(0)))
    assert (raised.value.field, raised.value.kind) == ("amount", "validation")


# --- R-BAL-*, R-SEQ-* ------------------------------------------------------------------------


def test_R_BAL_1_R_BAL_2_chain_starts_at_zero_and_links() -> None:
    book = worked_example_book()
    book.do(Decrement(D(50)), at(1))
    assert book.entries[0].starting_balance == D(0)
    for previous, entry in zip(book.entries, book.entries[1:], strict=False):
        assert entry.starting_balance == previous.ending_balance


def test_R_BAL_3_deltas_per_entry_type() -> None:
    book = Book()
    book.do(increment("a", 10, expiry=at(5)))
    book.do(Decrement(D(3)), at(1))
    book.tick(at(6))
    deltas = [(e.entry_type, e.ending_balance - e.starting_balance) for e in book.entries]
    assert deltas == [("increment", D(10)), ("decrement", D(-3)), ("credit_block_expiry", D(-7))]


def test_R_BAL_4_last_ending_balance_equals_sum_of_blocks() -> None:
    book = worked_example_book()
    book.do(Decrement(D(500)), at(1))
    book.tick(at(40))
    assert book.entries[-1].ending_balance == sum(book.balances().values()) == book.state.balance


def test_R_SEQ_1_dense_from_one_and_R_SEQ_3_created_at_non_decreasing() -> None:
    book = worked_example_book()
    book.do(Decrement(D(10)), at(1))
    book.tick(at(40))
    assert [e.seq for e in book.entries] == list(range(1, len(book.entries) + 1))
    times = [e.created_at for e in book.entries]
    assert times == sorted(times)


def test_R_SEQ_3_created_at_never_goes_back_even_if_clock_does() -> None:
    book = Book()
    book.do(increment("a", 1), at(2))
    outcome = book.do(Decrement(D(1)), at(1))
    assert outcome.entries[0].created_at == at(2)


# --- R-PEND-*, R-INC-* -----------------------------------------------------------------------


def test_R_PEND_1_future_increment_is_pending_until_effective() -> None:
    book = Book()
    outcome = book.do(increment("f", 10, effective=at(3)), at(0))
    entry, block = outcome.response, book.block("f")
    assert entry is not None and entry.created_at == at(0)
    assert entry_status(entry, block, at(2)) == "pending"
    assert entry_status(entry, block, at(3)) == "committed"


def test_R_PEND_2_pending_counts_in_L_but_not_in_D() -> None:
    book = Book()
    book.do(increment("f", 10, effective=at(3)))
    book.do(increment("u", 5, status="pending_payment"))
    assert book.state.balance == D(15)
    assert drawable_balance(book.state, at(1)) == D(0)
    assert drawable_balance(book.state, at(3)) == D(10)


def test_R_PEND_3_other_entry_types_are_committed() -> None:
    book = Book()
    book.do(increment("f", 10, effective=at(3)))
    outcome = book.do(Decrement(D(1)))
    assert entry_status(outcome.entries[0], outcome.changed_blocks[-1], at(0)) == "committed"


def test_R_PEND_5_backdated_increment_does_not_reallocate_earlier_decrements() -> None:
    book = Book()
    book.do(increment("a", 10), at(0))
    book.do(Decrement(D(15)), at(1))
    outcome = book.do(increment("back", 20, effective=at(-5), expiry=at(9)), at(2))
    assert len(outcome.entries) == 1 and outcome.entries[0].created_at == at(2)
    assert book.balances() == {"a": D(-5), "back": D(20)}


def test_R_INC_1_R_INC_2_new_block_from_request_and_no_repayment() -> None:
    book = Book()
    book.do(Decrement(D(5)))
    outcome = book.do(
        increment("n", 7, expiry=at(9), cost="0.20", metadata={"m": "1"}, source="top_up"),
        at(1),
    )
    assert [b.id for b in outcome.changed_blocks] == ["n"]
    block = book.block("n")
    assert (block.balance, block.maximum_initial_balance, block.ceiling) == (D(7), D(7), D(7))
    assert str(block.per_unit_cost_basis) == "0.20" and block.metadata == {"m": "1"}
    assert (block.source, block.status, block.created_seq) == ("top_up", "active", 2)
    assert outcome.response is not None and outcome.response.metadata == {"m": "1"}
    assert book.block("id-1").balance == D(-5)


def test_R_INC_3_validation_errors_name_the_field() -> None:
    state = LedgerState("credits")
    cases = [
        (increment("x", 0), AmountNotPositive, "amount"),
        (increment("x", 1, expiry=T0), ExpiryNotAfterEffective, "expiry_date"),
        (increment("x", 1, cost="-0.01"), CostBasisNegative, "per_unit_cost_basis"),
    ]
    for command, error, field in cases:
        with pytest.raises(error) as raised:
            apply(state, command, T0, Counter())
        assert (raised.value.field, raised.value.kind) == (field, "validation")


def test_R_INC_4_already_expired_increment_is_expired_in_same_request() -> None:
    book = Book()
    book.do(increment("a", 1))
    outcome = book.do(increment("old", 10, effective=at(-9), expiry=at(-2)), at(0))
    assert summary(outcome.entries) == [
        (2, "increment", "old", D(10), D(1), D(11)),
        (3, "credit_block_expiry", "old", D(10), D(11), D(1)),
    ]
    assert outcome.response == outcome.entries[0]
    assert outcome.entries[1].created_at == at(0)  # R-EXPY-2: not before the increment


# --- R-NEG-* ---------------------------------------------------------------------------------


def test_R_NEG_1_decrements_are_never_rejected_for_lack_of_credits() -> None:
    book = Book()
    book.do(Decrement(D(3)))
    assert book.state.balance == D(-3)


def test_R_NEG_2_later_increment_leaves_negative_block_and_is_consumed_first() -> None:
    book = Book()
    book.do(increment("a", 1))
    book.do(Decrement(D(5)))
    book.do(increment("b", 10, expiry=at(9)))
    assert book.balances() == {"a": D(-4), "b": D(10)} and book.state.balance == D(6)
    outcome = book.do(Decrement(D(12)))
    assert [(e.block_id, e.amount) for e in outcome.entries] == [("b", D(10)), ("a", D(2))]


def test_R_NEG_3_negative_block_gets_no_expiry_entry() -> None:
    book = Book()
    book.do(increment("a", 1, expiry=at(2)))
    book.do(Decrement(D(3)))
    outcome = book.tick(at(3))
    assert outcome.entries == () and book.block("a").balance == D(-2)


# --- R-EXPY-*, R-TIME-1 ----------------------------------------------------------------------


def test_R_EXPY_1_expiry_zeroes_positive_balance() -> None:
    book = Book()
    book.do(increment("a", 10, expiry=at(2)))
    book.do(Decrement(D(4)), at(1))
    outcome = book.tick(at(2))  # expiry_date <= now: due exactly at the instant
    assert summary(outcome.entries) == [(3, "credit_block_expiry", "a", D(6), D(6), D(0))]
    assert outcome.entries[0].id == expiry_entry_id("a")
    assert book.block("a").balance == D(0)


def test_R_EXPY_2_created_at_is_expiry_instant_ties_in_drawdown_order() -> None:
    book = Book()
    book.do(increment("late", 1, expiry=at(5)))
    book.do(increment("pricey", 1, expiry=at(2), cost="1"))
    book.do(increment("cheap", 1, expiry=at(2), cost="0.5"))
    outcome = book.tick(at(30))
    assert [(e.block_id, e.created_at) for e in outcome.entries] == [
        ("cheap", at(2)),
        ("pricey", at(2)),
        ("late", at(5)),
    ]


def test_R_EXPY_2_created_at_not_before_previous_entry() -> None:
    book = Book()
    book.do(increment("a", 5, expiry=at(1)), at(0))
    book.do(increment("back", 5, effective=at(-9), expiry=at(-1)), at(0))
    book.tick(at(2))
    expiries = [(e.block_id, e.created_at) for e in book.entries[2:]]
    # "back" expired before the previous entry was written: stamped at that entry's time.
    assert expiries == [("back", at(0)), ("a", at(1))]


def test_R_EXPY_3_zero_balance_block_gets_no_entry() -> None:
    book = Book()
    book.do(increment("a", 2, expiry=at(2)))
    book.do(Decrement(D(2)))
    assert book.tick(at(3)).entries == ()


def test_R_EXPY_4_pending_payment_blocks_expire_too() -> None:
    book = Book()
    book.do(increment("u", 3, expiry=at(2), status="pending_payment"))
    outcome = book.tick(at(2))
    assert [(e.entry_type, e.amount) for e in outcome.entries] == [("credit_block_expiry", D(3))]


def test_R_TIME_1_apply_materialises_due_expiries_first_in_chronological_order() -> None:
    book = Book()
    book.do(increment("a", 5, expiry=at(2)))
    book.do(increment("b", 5, expiry=at(1)))
    outcome = book.do(Decrement(D(1)), at(3))
    assert [(e.entry_type, e.block_id) for e in outcome.entries] == [
        ("credit_block_expiry", "b"),
        ("credit_block_expiry", "a"),
        ("decrement", "id-1"),  # nothing drawable left: a deficit block
    ]
    assert outcome.response == outcome.entries[-1]
