"""The finance rules of the core: the balance summary adds up to L, balance alerts fire
once per crossing and report their thresholds' status, expiring blocks, and the liability
report reconciles exactly (and the command log replayed up to any instant gives the state
captured at that instant)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.ledger import Decrement, Void, expire_due, replay
from drawdown.ledger.balances import (
    AlertStatus,
    balance_alerts,
    expiring_blocks,
    summarize,
    threshold_status,
)
from drawdown.ledger.liability import Movement, liability, outstanding_series

from .support import T0, Book, Counter, at, increment
from .test_properties import Runner, check_ledger, ops

D = Decimal


def test_summary_splits_available_scheduled_and_awaiting_payment() -> None:
    book = Book()
    book.do(increment("now", 3935))
    book.do(increment("later", 1000, effective=at(7)))
    book.do(increment("unpaid", 10, status="pending_payment"))
    s = summarize(book.state, at(1))
    assert (s.available, s.scheduled, s.awaiting_payment, s.total) == (3935, 1000, 10, 4945)
    assert summarize(book.state, at(8)).available == 4935


def test_an_expired_block_in_deficit_stays_in_available() -> None:
    book = Book()
    book.do(increment("a", 10, expiry=at(2)))
    book.do(Decrement(D(15)), at(1))  # a: -5, then it expires keeping its debt (R-NEG-3)
    book.tick(at(3))
    s = summarize(book.state, at(3))
    assert (s.available, s.total) == (-5, book.state.balance)


def test_alerts_fire_once_per_crossing() -> None:
    thresholds = [D(50), D(20)]
    status, alerts = balance_alerts(AlertStatus(), D(40), thresholds)
    assert [(a.kind, a.threshold) for a in alerts] == [("dropped", D(50))]
    status, alerts = balance_alerts(status, D(35), thresholds)
    assert alerts == ()
    status, alerts = balance_alerts(status, D(-1), thresholds)
    assert [(a.kind, a.threshold) for a in alerts] == [("dropped", D(20)), ("depleted", None)]
    status, alerts = balance_alerts(status, D(0), thresholds)
    assert alerts == ()  # still depleted: zero counts as depleted
    status, alerts = balance_alerts(status, D(100), thresholds)
    assert [a.kind for a in alerts] == ["recovered"]
    assert status == AlertStatus(False, frozenset())
    _, alerts = balance_alerts(status, D(50), thresholds)
    assert [(a.kind, a.threshold) for a in alerts] == [("dropped", D(50))]  # "at or below"


def test_a_first_grant_is_not_a_recovery() -> None:
    assert balance_alerts(AlertStatus(), D(100), []) == (AlertStatus(), ())


def test_an_alerts_status_is_each_threshold_and_whether_the_ledger_is_at_or_below_it() -> None:
    status, _ = balance_alerts(AlertStatus(), D(30), [D(50), D(20)])
    assert threshold_status(status, "dropped", [D(20), D(50)]) == ((D(20), False), (D(50), True))
    # Thresholds the status has not seen yet (just added) are not in alert until a write.
    assert threshold_status(status, "dropped", [D(80)]) == ((D(80), False),)
    assert threshold_status(status, "depleted", []) == ((D(0), False),)
    depleted, _ = balance_alerts(status, D(0), [D(50), D(20)])
    assert threshold_status(depleted, "recovered", []) == ((D(0), True),)


def test_expiring_blocks_are_those_with_credits_left_in_the_window() -> None:
    book = Book()
    book.do(increment("soon", 5, expiry=at(3)))
    book.do(increment("late", 5, expiry=at(30)))
    book.do(increment("never", 5))
    book.do(increment("empty", 5, expiry=at(2)))
    book.do(Void("empty", D(5)))
    found = expiring_blocks(book.state.blocks.values(), at(0), timedelta(days=7))
    assert [b.id for b in found] == ["soon"]
    assert expiring_blocks(book.state.blocks.values(), at(3), timedelta(days=7)) == []


def _movements(book: Book) -> list[Movement]:
    blocks = book.state.blocks
    return [Movement(e.currency, e.entry_type, e.amount, e.created_at,
                     blocks[e.block_id].per_unit_cost_basis) for e in book.entries]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(ops, min_size=3, max_size=30), st.integers(0, 60), st.integers(0, 60))
def test_liability_reconciles_to_the_last_decimal(sequence, start_h: int, length_h: int) -> None:
    runner, now = Runner(), T0
    for serial, op in enumerate(sequence):
        now += timedelta(hours=op.advance_h)
        runner.step(op, now, serial)
    book = runner.book
    book.tick(now + timedelta(days=40))
    check_ledger(book)
    start = T0 + timedelta(hours=start_h * 10)
    end = start + timedelta(hours=length_h * 10)
    moves = _movements(book)
    for line in liability(moves, start, end):
        change = line.granted.credits - line.consumed.credits - line.expired.credits
        assert line.closing.credits == line.opening.credits + change - line.voided.credits
        value = line.granted.value - line.consumed.value - line.expired.value - line.voided.value
        assert line.closing.value == line.opening.value + value
        before_end = [e for e in book.entries if e.created_at < end]
        assert line.closing.credits == (before_end[-1].ending_balance if before_end else 0)
    [whole] = liability(moves, T0, now + timedelta(days=41)) or [None]
    if whole is not None:
        blocks = book.state.blocks.values()
        assert whole.closing.credits == sum(b.balance for b in blocks) == book.state.balance
        assert whole.closing.value == sum(b.balance * (b.per_unit_cost_basis or 0) for b in blocks)
        assert outstanding_series(moves, "credits", [now + timedelta(days=41)])[0][1] == (
            whole.closing.credits
        )


@settings(max_examples=150, deadline=None)
@given(st.lists(ops, min_size=3, max_size=30))
def test_replay_up_to_an_instant_is_the_state_captured_then(sequence) -> None:
    runner, now = Runner(), T0
    captured = []
    for serial, op in enumerate(sequence):
        now += timedelta(hours=op.advance_h)
        runner.step(op, now, serial)
        captured.append((now, runner.book.state, len(runner.book.log)))
    for instant, state, logged in captured:
        # Commands at the same instant all count (the state after them); later ones not yet.
        log = [(t, c) for t, c in runner.book.log if t <= instant]
        assert len(log) >= logged
        if len(log) > logged:
            continue  # several steps at one instant: only the last capture is "at" it
        replayed = replay(log, "credits", instant, Counter()).state
        live = {b.id: b for b in replayed.blocks.values()}
        state = expire_due(state, instant).state  # what a caught-up read sees (R-TIME-1)
        assert replayed.balance == state.balance
        expected = summarize(state, instant)
        got = summarize(replayed, instant)
        assert (got.available, got.scheduled, got.awaiting_payment, got.total) == (
            expected.available, expected.scheduled, expected.awaiting_payment, expected.total
        )  # fmt: skip
        assert {k: v.balance for k, v in live.items() if not k.startswith("id-")} == {
            k: v.balance for k, v in state.blocks.items() if not k.startswith("id-")
        }
