"""Rules of docs/rules.md §4.10-4.14 owned by the core: expiration change, void, amendment,
activation of paid blocks and replay after block deletion. Test names carry the rule id."""

from __future__ import annotations

import pytest

from drawdown.ledger import (
    Activate,
    AmbiguousBlockExpiry,
    Amendment,
    AmendmentExceedsCeiling,
    AmendmentOnExpiredBlock,
    AmountNotPositive,
    BlockInOtherLedger,
    BlockNotFound,
    Decrement,
    ExpirationChange,
    ExpirationChangeExceedsBalance,
    Filter,
    NoBlockWithExpiry,
    NotPendingPayment,
    SourceBlockExpired,
    TargetExpiryNotAfterEffective,
    Void,
    VoidExceedsBlock,
    apply,
    drawable_balance,
    find_block_by_expiry,
    replay,
)

from .support import Book, Counter, D, at, increment, summary


def move(block_id: str, target: object, amount: int | None = None, new: str = "child"):  # type: ignore[no-untyped-def]
    return ExpirationChange(
        block_id=block_id,
        amount=None if amount is None else D(amount),
        target_expiry_date=target,  # type: ignore[arg-type]
        new_block_id=new,
    )


# --- R-EXP-* ---------------------------------------------------------------------------------


def test_R_EXP_1_child_copies_source_and_ceiling_shrinks() -> None:
    book = Book()
    filters = (Filter("item_id", "includes", ("i1",)),)
    book.do(
        increment(
            "src",
            100,
            effective=at(-1),
            expiry=at(30),
            cost="0.20",
            filters=filters,
            metadata={"m": "1"},
            status="pending_payment",
            invoice_id="inv",
            source="top_up",
        )
    )
    outcome = book.do(move("src", at(60), 40), at(1))
    src, child = book.block("src"), book.block("child")
    assert [b.id for b in outcome.changed_blocks] == ["src", "child"]
    assert (src.balance, src.maximum_initial_balance, src.ceiling) == (D(60), D(100), D(60))
    assert (child.balance, child.maximum_initial_balance, child.ceiling) == (D(40), D(40), D(40))
    assert child.effective_date == at(-1) and child.expiry_date == at(60)
    assert child.per_unit_cost_basis == D("0.20") and child.filters == filters
    assert child.status == "pending_payment" and child.metadata == {}
    assert child.source == "manual" and child.parent_block_id == "src"
    assert child.invoice_id == "inv" and child.created_seq == 2


def test_R_EXP_1_ceiling_stops_move_and_amend_back_from_creating_credits() -> None:
    book = Book()
    book.do(increment("src", 10, expiry=at(30)))
    book.do(move("src", at(60), 10), at(1))
    with pytest.raises(AmendmentExceedsCeiling):
        book.do(Amendment("src", D(1)), at(1))
    with pytest.raises(VoidExceedsBlock):
        book.do(Void("src", D(1)), at(1))


def test_R_EXP_2_find_block_by_expiry_unique_positive_block() -> None:
    book = Book()
    book.do(increment("a", 5, expiry=at(10)))
    book.do(increment("b", 5, expiry=at(20)))
    book.do(increment("c", 5, expiry=at(20)))
    assert find_block_by_expiry(book.state, at(10)).id == "a"
    with pytest.raises(AmbiguousBlockExpiry) as ambiguous:
        find_block_by_expiry(book.state, at(20))
    with pytest.raises(NoBlockWithExpiry) as missing:
        find_block_by_expiry(book.state, at(11))
    assert ambiguous.value.kind == missing.value.kind == "constraint"
    assert missing.value.field == "expiry_date"
    book.do(Decrement(D(5)))  # a drops to 0 and no longer matches
    with pytest.raises(NoBlockWithExpiry):
        find_block_by_expiry(book.state, at(10))


def test_R_EXP_3_amount_defaults_to_whole_balance_and_is_bounded() -> None:
    book = Book()
    book.do(increment("src", 10, expiry=at(30)))
    book.do(Decrement(D(4)))
    with pytest.raises(ExpirationChangeExceedsBalance) as raised:
        book.do(move("src", at(60), 7))
    assert (raised.value.field, raised.value.kind) == ("amount", "constraint")
    with pytest.raises(AmountNotPositive):
        book.do(move("src", at(60), 0))
    book.do(move("src", at(60)))
    assert book.block("child").balance == D(6) and book.block("src").balance == D(0)
    with pytest.raises(ExpirationChangeExceedsBalance):
        book.do(move("src", at(70), new="other"))


def test_R_EXP_3_expired_source_is_rejected() -> None:
    book = Book()
    book.do(increment("src", 10, expiry=at(2)))
    with pytest.raises(SourceBlockExpired) as raised:
        book.do(move("src", at(60)), at(2))
    assert raised.value.kind == "constraint"


def test_R_EXP_4_target_must_be_after_source_effective_date() -> None:
    book = Book()
    book.do(increment("src", 10, effective=at(5)))
    with pytest.raises(TargetExpiryNotAfterEffective) as raised:
        book.do(move("src", at(5)))
    assert (raised.value.field, raised.value.kind) == ("target_expiry_date", "constraint")


def test_R_EXP_5_one_entry_on_source_with_zero_delta() -> None:
    book = Book()
    book.do(increment("src", 10))
    outcome = book.do(move("src", at(60), 3), at(1))
    assert summary(outcome.entries) == [(2, "expiration_change", "src", D(3), D(10), D(10))]
    assert outcome.response == outcome.entries[0]
    assert outcome.entries[0].new_block_expiry_date == at(60)


def test_R_EXP_6_target_at_or_before_now_expires_child_immediately() -> None:
    book = Book()
    book.do(increment("src", 10, effective=at(-5)))
    outcome = book.do(move("src", at(1), 4), at(1))
    assert summary(outcome.entries) == [
        (2, "expiration_change", "src", D(4), D(10), D(10)),
        (3, "credit_block_expiry", "child", D(4), D(10), D(6)),
    ]
    assert outcome.response == outcome.entries[0]
    assert book.balances() == {"src": D(6), "child": D(0)}


# --- R-VOID-* --------------------------------------------------------------------------------


def test_R_VOID_1_limit_is_ceiling_minus_already_voided() -> None:
    book = Book()
    book.do(increment("a", 10))
    book.do(Void("a", D(6)))
    with pytest.raises(VoidExceedsBlock) as raised:
        book.do(Void("a", D(5)))
    assert (raised.value.field, raised.value.kind) == ("amount", "constraint")
    with pytest.raises(AmountNotPositive):
        book.do(Void("a", D(0)))
    book.do(Void("a", D(4)))
    assert book.block("a").voided == D(10)


def test_R_VOID_1_pending_and_expired_blocks_may_be_voided_but_not_their_expired_credits() -> None:
    book = Book()
    book.do(increment("p", 5, status="pending_payment"))
    book.do(increment("e", 5, expiry=at(2)))
    book.do(Decrement(D(3)), at(1))  # 3 used before expiry, 2 expire unused (X = 2)
    book.do(Void("p", D(5)), at(3))
    with pytest.raises(VoidExceedsBlock) as too_much:
        book.do(Void("e", D(4)), at(3))  # C - V - X = 5 - 0 - 2 = 3
    assert too_much.value.kind == "constraint"
    book.do(Void("e", D(3)), at(3))  # the credits consumed before expiry
    assert book.balances() == {"p": D(0), "e": D(-3)}
    with pytest.raises(VoidExceedsBlock):
        book.do(Void("e", D(1)), at(3))


def test_R_VOID_2_void_within_balance_writes_one_entry() -> None:
    book = Book()
    book.do(increment("a", 10))
    outcome = book.do(Void("a", D(4), void_reason="refund", description="r"))
    assert summary(outcome.entries) == [(2, "void", "a", D(4), D(10), D(6))]
    (entry,) = outcome.entries
    assert (entry.void_amount, entry.void_reason, entry.description) == (D(4), "refund", "r")
    assert book.block("a").balance == D(6)


def test_R_VOID_3_void_beyond_balance_writes_initiated_then_void() -> None:
    book = Book()
    book.do(increment("a", 10))
    book.do(Decrement(D(7)))
    outcome = book.do(Void("a", D(10), void_reason="refund"), at(1))
    assert summary(outcome.entries) == [
        (3, "void_initiated", "a", D(3), D(3), D(3)),
        (4, "void", "a", D(10), D(3), D(-7)),
    ]
    initiated = outcome.entries[0]
    assert (initiated.void_amount, initiated.new_block_expiry_date) == (D(10), at(1))
    assert outcome.response == outcome.entries[1]
    assert book.block("a").balance == D(-7)


def test_R_VOID_3_initiated_amount_is_zero_when_block_is_negative() -> None:
    book = Book()
    book.do(increment("a", 2))
    book.do(Decrement(D(5)))
    outcome = book.do(Void("a", D(2)))
    assert [(e.entry_type, e.amount) for e in outcome.entries] == [
        ("void_initiated", D(0)),
        ("void", D(2)),
    ]


def test_R_VOID_4_voided_block_keeps_status() -> None:
    book = Book()
    book.do(increment("p", 5, status="pending_payment"))
    book.do(Void("p", D(5)))
    assert book.block("p").status == "pending_payment"


# --- R-AMD-* ---------------------------------------------------------------------------------


def test_R_AMD_1_amendment_returns_credits_to_the_block() -> None:
    book = Book()
    book.do(increment("a", 10))
    book.do(Decrement(D(6)))
    outcome = book.do(Amendment("a", D(2), description="oops"))
    assert summary(outcome.entries) == [(3, "amendment", "a", D(2), D(4), D(6))]
    assert book.block("a").balance == D(6)


def test_R_AMD_2_bounded_by_ceiling_and_not_on_expired_blocks() -> None:
    book = Book()
    book.do(increment("a", 10, expiry=at(5)))
    book.do(Decrement(D(3)))
    with pytest.raises(AmendmentExceedsCeiling) as raised:
        book.do(Amendment("a", D(4)))
    assert (raised.value.field, raised.value.kind) == ("amount", "constraint")
    book.do(Amendment("a", D(3)))
    with pytest.raises(AmendmentOnExpiredBlock):
        book.do(Amendment("a", D(1)), at(5))


def test_R_AMD_2_deficit_block_can_only_be_amended_back_to_zero() -> None:
    book = Book()
    book.do(Decrement(D(5)))
    with pytest.raises(AmendmentExceedsCeiling):
        book.do(Amendment("id-1", D(6)))
    book.do(Amendment("id-1", D(5)))
    assert book.block("id-1").balance == D(0)


def test_R_AMD_2_voided_block_may_be_amended_within_ceiling() -> None:
    book = Book()
    book.do(increment("a", 10))
    book.do(Void("a", D(4)))
    book.do(Amendment("a", D(4)))
    assert book.block("a").balance == D(10)


# --- R-INV-4/5 activation, R-CUR-4, lookups ------------------------------------------------


def test_R_INV_5_activate_makes_pending_payment_block_drawable_without_entry() -> None:
    book = Book()
    book.do(increment("p", 5, status="pending_payment"))
    assert drawable_balance(book.state, at(1)) == D(0)
    outcome = book.do(Activate("p"), at(1))
    assert outcome.entries == () and outcome.response is None
    assert [b.status for b in outcome.changed_blocks] == ["active"]
    assert drawable_balance(book.state, at(1)) == D(5)
    with pytest.raises(NotPendingPayment) as raised:
        book.do(Activate("p"), at(1))
    assert raised.value.kind == "constraint"


def test_R_CUR_4_unknown_block_is_not_found() -> None:
    # The other-ledger half of R-CUR-4 is decided in the service, which sees every ledger
    # (tests/api/test_rules_ledger.py).
    book = Book()
    with pytest.raises(BlockNotFound) as raised:
        book.do(Void("nope", D(1)))
    assert (raised.value.field, raised.value.kind) == ("block_id", "not_found")
    assert BlockInOtherLedger.kind == "constraint"


# --- R-DEL-2/3 replay ------------------------------------------------------------------------


def test_R_DEL_2_replay_without_deleted_block_reallocates_and_clamps() -> None:
    book = Book()
    book.do(increment("gone", 10, expiry=at(20)), at(0))
    book.do(increment("keep", 10, expiry=at(30)), at(0))
    book.do(Decrement(D(12)), at(1))  # gone 10, keep 2
    book.do(Amendment("keep", D(2)), at(2))  # keep back to 10
    book.do(Void("keep", D(10)), at(3))
    log = [(t, c) for t, c in book.log if getattr(c, "block_id", None) != "gone"]
    outcome = replay(log, "credits", at(40), Counter("r"))
    assert summary(outcome.entries) == [
        (1, "increment", "keep", D(10), D(0), D(10)),
        (2, "decrement", "keep", D(12), D(10), D(-2)),
        (3, "amendment", "keep", D(2), D(-2), D(0)),
        (4, "void_initiated", "keep", D(0), D(0), D(0)),
        (5, "void", "keep", D(10), D(0), D(-10)),
    ]
    assert [e.created_at for e in outcome.entries] == [at(0), at(1), at(2), at(3), at(3)]
    assert outcome.entries[0].id == "inc-keep"
    assert [b.id for b in outcome.changed_blocks] == ["keep"]
    assert outcome.state.last_seq == 5 and outcome.state.balance == D(-10)


def test_R_DEL_2_replayed_amendment_and_move_see_recomputed_balances() -> None:
    book = Book()
    book.do(increment("gone", 10), at(0))
    book.do(increment("keep", 5, expiry=at(9)), at(0))
    book.do(Decrement(D(8)), at(1))  # keep 5 -> 0, gone 3
    book.do(Amendment("keep", D(5)), at(2))
    book.do(ExpirationChange("keep", None, at(20), "kid"), at(3))
    log = [(t, c) for t, c in book.log if getattr(c, "block_id", None) != "gone"]
    outcome = replay(log, "credits", at(40), Counter("r"))
    # Without "gone", keep takes all 8 (-> -3); the amendment still fits (room 8) -> 2; the
    # expiration change moves "the whole balance", now 2, and the child expires at its instant.
    assert summary(outcome.entries) == [
        (1, "increment", "keep", D(5), D(0), D(5)),
        (2, "decrement", "keep", D(8), D(5), D(-3)),
        (3, "amendment", "keep", D(5), D(-3), D(2)),
        (4, "expiration_change", "keep", D(2), D(2), D(2)),
        (5, "credit_block_expiry", "kid", D(2), D(2), D(0)),
    ]
    assert outcome.entries[-1].created_at == at(20)


def test_R_DEL_2_move_clamped_to_zero_is_skipped_with_commands_on_its_child() -> None:
    book = Book()
    book.do(increment("gone", 10, expiry=at(5)), at(0))
    book.do(increment("keep", 5, expiry=at(9)), at(0))
    book.do(Decrement(D(10)), at(1))  # all from "gone", which expires first
    book.do(ExpirationChange("keep", None, at(20), "kid"), at(2))
    book.do(Void("kid", D(2)), at(3))
    log = [(t, c) for t, c in book.log if getattr(c, "block_id", None) != "gone"]
    outcome = replay(log, "credits", at(40), Counter("r"))
    assert summary(outcome.entries) == [
        (1, "increment", "keep", D(5), D(0), D(5)),
        (2, "decrement", "keep", D(10), D(5), D(-5)),
    ]
    assert outcome.state.balance == D(-5) and "kid" not in outcome.state.blocks


def test_R_DEL_2_replay_keeps_a_deficit_block_id_so_its_amendment_still_applies() -> None:
    """A replay draws fresh ids: the decrement carries its deficit block's id so that an
    amendment naming that block (the only way to repay it, R-NEG-3) is replayed too."""
    book = Book()
    book.do(Decrement(D(10), deficit_block_id="debt"), at(0))
    book.do(Amendment("debt", D(10)), at(1))
    outcome = replay(book.log, "credits", at(2), Counter("other"))
    assert summary(outcome.entries) == [
        (1, "decrement", "debt", D(10), D(0), D(-10)),
        (2, "amendment", "debt", D(10), D(-10), D(0)),
    ]
    assert outcome.state.balance == D(0) and outcome.state.blocks["debt"].balance == D(0)


def test_R_DEL_2_clamp_mode_bounds_void_amendment_and_move() -> None:
    book = Book()
    book.do(increment("a", 10, expiry=at(9)))
    book.do(Decrement(D(4)))
    state, ids = book.state, Counter("c")
    void = apply(state, Void("a", D(50)), at(1), ids, clamp=True)
    assert [(e.entry_type, e.amount) for e in void.entries] == [
        ("void_initiated", D(6)),
        ("void", D(10)),
    ]
    amend = apply(state, Amendment("a", D(50)), at(1), ids, clamp=True)
    assert [(e.entry_type, e.amount) for e in amend.entries] == [("amendment", D(4))]
    moved = apply(state, move("a", at(20), 50), at(1), ids, clamp=True)
    assert [(e.entry_type, e.amount) for e in moved.entries] == [("expiration_change", D(6))]
    expired = apply(state, Amendment("a", D(1)), at(9), ids, clamp=True)
    assert [e.entry_type for e in expired.entries] == ["credit_block_expiry"]
    assert expired.response is None
    unknown = apply(state, Void("nope", D(1)), at(1), ids, clamp=True)
    assert unknown.entries == () and unknown.response is None
