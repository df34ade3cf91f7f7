"""`drawdown verify`: clean on a ledger that saw every kind of write, and it catches a row
altered behind drawdown's back (an UPDATE by SQL), on SQLite and PostgreSQL; with an anchor,
also a rollback made consistently (issue 23)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import orb
from sqlalchemy import text

from conftest import REPO, Server
from drawdown.cli.main import app
from drawdown.cli.options import run
from drawdown.ledger import chain
from drawdown.services import verify as service
from drawdown.store import ledger_tables as store
from support.contexts import make_context


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def verify(server: Server, *args: str) -> Result:
    """The command in this process, through `options.run` as `drawdown` runs it (one
    `error:` line for a refusal); a fresh interpreter costs seconds on a busy machine."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.dict(os.environ, {"DRAWDOWN_DATABASE_URL": server.database_url}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            run(app, ["verify", *args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def busy_customer(client: orb.Orb) -> str:
    """A customer whose ledgers saw increments, deficits, voids, amendments, expiration
    changes, a block deletion, expiries and a second currency."""
    c = client.customers.create(name="Audit", email="audit@example.com")
    ledger = client.customers.credits.ledger
    soon = datetime.now(UTC) + timedelta(seconds=1)
    ledger.create_entry(c.id, entry_type="increment", amount=5, expiry_date=soon,
                        metadata={"note": "expires"})  # fmt: skip
    first = ledger.create_entry(c.id, entry_type="increment", amount=100,
                                per_unit_cost_basis="0.25", description="first")  # fmt: skip
    second = ledger.create_entry(c.id, entry_type="increment", amount=50)
    ledger.create_entry(c.id, entry_type="decrement", amount=30, metadata={"k": "é✓"})
    ledger.create_entry(c.id, entry_type="void", block_id=first.credit_block.id, amount=10,
                        void_reason="refund")  # fmt: skip
    ledger.create_entry(c.id, entry_type="amendment", block_id=first.credit_block.id, amount=5)
    ledger.create_entry(c.id, entry_type="expiration_change", block_id=first.credit_block.id,
                        amount=20, target_expiry_date="2099-01-01")  # fmt: skip
    ledger.create_entry(c.id, entry_type="decrement", amount=400)  # into a deficit block
    ledger.create_entry(c.id, entry_type="increment", amount=7, currency="tokens")
    client.credit_blocks.delete(second.credit_block.id)  # a replay rewrites the ledger
    ledger.create_entry(c.id, entry_type="increment", amount=1000)
    return c.id


def test_verify_is_clean_then_names_an_altered_entry(server: Server, client: orb.Orb) -> None:
    customer_id = busy_customer(client)
    clean = verify(server)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 mismatch(es)" in clean.stdout
    with server.engine.begin() as conn:
        seq, entry_id = conn.execute(
            text("SELECT seq, id FROM ledger_entries WHERE customer_id = :c "
                 "AND currency = 'credits' AND entry_type = 'decrement' ORDER BY seq LIMIT 1"),
            {"c": customer_id},
        ).one()  # fmt: skip
        conn.execute(
            text("UPDATE ledger_entries SET amount = amount + 1 WHERE customer_id = :c "
                 "AND id = :e"),
            {"c": customer_id, "e": entry_id},
        )  # fmt: skip
    caught = verify(server, "--customer", customer_id)
    assert caught.returncode == 1, caught.stdout
    assert f"first mismatch: customer {customer_id} ledger credits: entry {entry_id} " \
           f"(seq {seq})" in caught.stderr  # fmt: skip
    others = verify(server, "--customer", "noSuchCustomer1")
    assert others.returncode == 0


def test_verify_is_clean_after_credit_notes(server: Server, client: orb.Orb) -> None:
    """Refunds and adjustments void credits through the command log, so replay agrees:
    after partial refunds, refunds that follow moved credits, an adjustment on a gated
    block, and a block deletion that drops a refund's voids."""
    c = client.customers.create(name="Refunds", email="r@example.com", currency="USD")
    ledger = client.customers.credits.ledger

    def buy(amount: int, **settings: object) -> Any:
        return ledger.create_entry(
            c.id, entry_type="increment", amount=amount, per_unit_cost_basis="0.10",
            invoice_settings={"auto_collection": False, "net_terms": 0, **settings},
        )  # fmt: skip

    def credit(bought: Any, amount: str) -> None:
        item = bought.created_invoices[0].line_items[0].id
        client.credit_notes.create(
            line_items=[{"invoice_line_item_id": item, "amount": amount}], reason="duplicate"
        )

    paid = buy(100, mark_as_paid=True)
    ledger.create_entry(c.id, entry_type="decrement", amount=30)
    ledger.create_entry(c.id, entry_type="expiration_change", block_id=paid.credit_block.id,
                        amount=20, target_expiry_date="2099-01-01")  # fmt: skip
    credit(paid, "5.00")
    credit(paid, "3.33")
    gated = buy(40, require_successful_payment=True)
    credit(gated, "1.00")
    client.invoices.mark_paid(gated.created_invoices[0].id, payment_received_date="2030-01-01")
    dropped = buy(10, mark_as_paid=True)
    credit(dropped, "0.50")
    client.credit_blocks.delete(dropped.credit_block.id)
    ledger.create_entry(c.id, entry_type="decrement", amount=7)
    result = verify(server, "--customer", c.id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatch(es)" in result.stdout
    # 50 from the bought block, then only the 20 its child still holds (not 33.3), 10 from
    # the gated block; the deleted block's refund is gone with it.
    voids = ledger.list(c.id, entry_type="void")
    assert [(e.amount, e.void_reason) for e in voids] == [(10, "refund"), (20, "refund"),
                                                          (50, "refund")]  # fmt: skip


def test_verify_checks_the_cash_balance_chain(server: Server, client: orb.Orb) -> None:
    c = client.customers.create(name="Cash", email="cash@example.com", currency="USD")
    moves = client.customers.balance_transactions
    moves.create(c.id, amount="10", type="increment")
    second = moves.create(c.id, amount="4", type="decrement")
    assert verify(server, "--customer", c.id).returncode == 0
    with server.engine.begin() as conn:
        conn.execute(text("UPDATE customers SET cash_balance = 7 WHERE id = :c"), {"c": c.id})
    caught = verify(server, "--customer", c.id)
    assert caught.returncode == 1
    assert "the customer's balance 7 is not its newest transaction's 6" in caught.stderr
    with server.engine.begin() as conn:
        conn.execute(text("UPDATE customers SET cash_balance = 6 WHERE id = :c"), {"c": c.id})
        conn.execute(
            text("UPDATE customer_balance_transactions SET amount = 5 "
                 "WHERE customer_id = :c AND id = :m"),
            {"c": c.id, "m": second.id},
        )  # fmt: skip
    caught = verify(server, "--customer", c.id)
    assert caught.returncode == 1
    assert f"transaction {second.id} (seq 2) ends at 6, its decrement of 5 ends at 5" \
        in caught.stderr, caught.stderr  # fmt: skip


def test_verify_catches_an_altered_block_and_a_rewritten_chain(
    server: Server, client: orb.Orb
) -> None:
    """Recomputing the hashes after an UPDATE is not enough: the replay disagrees."""
    c = client.customers.create(name="Audit", email="audit@example.com")
    ledger = client.customers.credits.ledger
    block = ledger.create_entry(c.id, entry_type="increment", amount=10).credit_block.id
    ledger.create_entry(c.id, entry_type="decrement", amount=4)
    with server.engine.begin() as conn:
        conn.execute(text("UPDATE credit_blocks SET balance = 600 WHERE customer_id = :c"),
                     {"c": c.id})  # fmt: skip
    caught = verify(server, "--customer", c.id)
    assert caught.returncode == 1
    assert f"block {block}: stored balance 600" in caught.stderr

    d = client.customers.create(name="Audit", email="audit@example.com")
    ledger.create_entry(d.id, entry_type="increment", amount=10)
    with server.engine.begin() as conn:  # forge the entry, then re-chain it as a forger would
        conn.execute(text("UPDATE ledger_entries SET amount = 11, ending_balance = 11 "
                          "WHERE customer_id = :c"), {"c": d.id})  # fmt: skip
        conn.execute(text("UPDATE ledgers SET balance = 11 WHERE customer_id = :c"),
                     {"c": d.id})  # fmt: skip
    rechain(server, d.id)
    caught = verify(server, "--customer", d.id)
    assert caught.returncode == 1
    assert "differs from its replay: stored increment 11" in caught.stderr, caught.stderr


def test_verify_catches_an_entry_moved_to_another_block_and_rechained(
    server: Server, client: orb.Orb
) -> None:
    c = client.customers.create(name="Audit", email="audit@example.com")
    ledger = client.customers.credits.ledger
    ledger.create_entry(c.id, entry_type="increment", amount=10)
    other = ledger.create_entry(c.id, entry_type="increment", amount=10).credit_block.id
    taken = ledger.create_entry(c.id, entry_type="decrement", amount=4)
    with server.engine.begin() as conn:  # the decrement now claims the other block
        conn.execute(text("UPDATE ledger_entries SET block_id = :b WHERE customer_id = :c "
                          "AND id = :e"), {"b": other, "c": c.id, "e": taken.id})  # fmt: skip
    rechain(server, c.id)
    caught = verify(server, "--customer", c.id)
    assert caught.returncode == 1
    assert f"entry {taken.id} (seq 3) differs from its replay" in caught.stderr, caught.stderr


def rechain(server: Server, customer_id: str) -> None:
    """Recompute every hash of the customer's credits ledger, its head included."""
    ctx = make_context(server.database_url)
    with ctx.db.read() as tx:
        entries = list(store.ledger_entries_in_order(tx, customer_id, "credits"))
    ctx.db.close()
    previous = chain.genesis(customer_id, "credits")
    with server.engine.begin() as conn:
        for entry in entries:
            previous = service.entry_digest(previous, entry)
            conn.execute(
                text("UPDATE ledger_entries SET hash = :h WHERE customer_id = :c AND id = :e"),
                {"h": previous, "c": customer_id, "e": entry.id},
            )
        conn.execute(text("UPDATE ledgers SET chain_head = :h WHERE customer_id = :c"),
                     {"h": previous, "c": customer_id})  # fmt: skip


def test_the_command_runs_as_a_program(server: Server, client: orb.Orb) -> None:
    customer_id = busy_customer(client)
    env = {**os.environ, "DRAWDOWN_DATABASE_URL": server.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", "verify", "--customer", customer_id],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 ledger(s)" in result.stdout and "0 mismatch(es)" in result.stdout
    assert "verified 2/2 ledgers" in result.stderr


def test_an_anchor_catches_a_consistent_rollback(
    server: Server, client: orb.Orb, tmp_path: Path
) -> None:
    """Issue 23: the newest entry removed with its command, block and head, all consistent:
    the chains and replays still verify, but not against an anchor taken before."""
    c = client.customers.create(name="Anchored", email="anchored@example.com")
    ledger = client.customers.credits.ledger
    ledger.create_entry(c.id, entry_type="increment", amount=100)
    ledger.create_entry(c.id, entry_type="decrement", amount=30)
    newest = ledger.create_entry(c.id, entry_type="increment", amount=50)
    anchor = str(tmp_path / "anchor.jsonl")
    recorded = verify(server, "--customer", c.id, "--anchor", anchor)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert f"anchor: 1 ledger head(s) recorded in {anchor}" in recorded.stdout
    kept = Path(anchor).read_text()
    assert json.loads(kept.splitlines()[1]) == {
        "customer_id": c.id, "currency": "credits", "seq": 3, "hash": newest_hash(server, c.id),
        "deleted_blocks": 0,
    }  # fmt: skip
    again = verify(server, "--customer", c.id, "--anchor", anchor)
    assert again.returncode == 0, again.stdout + again.stderr  # untouched: still clean
    assert "anchor: 1 anchored ledger head(s) checked" in again.stdout
    kept = Path(anchor).read_text()  # recorded anew

    roll_back_newest(server, c.id, newest.credit_block.id)
    assert verify(server, "--customer", c.id).returncode == 0  # invisible without the anchor
    caught = verify(server, "--customer", c.id, "--anchor", anchor)
    assert caught.returncode == 1, caught.stdout
    assert (f"first mismatch: customer {c.id} ledger credits: rolled back to before the "
            "anchor: the newest entry is seq 2; the anchor has seq 3") in caught.stderr  # fmt: skip
    assert Path(anchor).read_text() == kept  # the evidence is not overwritten
    # Writing on after the rollback reaches seq 3 again, with another history.
    other = ledger.create_entry(c.id, entry_type="increment", amount=50)
    caught = verify(server, "--customer", c.id, "--anchor", anchor)
    assert caught.returncode == 1
    assert f"differs from the anchor: entry {other.id} has hash " in caught.stderr


def test_a_block_deletion_after_the_anchor_is_a_rewrite_not_a_mismatch(
    server: Server, client: orb.Orb, tmp_path: Path
) -> None:
    """Deleting a credit block re-derives the ledger (R-DEL-1): verify names the rewrite,
    exits 0 and records the new heads."""
    c = client.customers.create(name="Anchored", email="anchored@example.com")
    ledger = client.customers.credits.ledger
    first = ledger.create_entry(c.id, entry_type="increment", amount=100)
    ledger.create_entry(c.id, entry_type="increment", amount=50)
    ledger.create_entry(c.id, entry_type="decrement", amount=120)
    anchor = str(tmp_path / "anchor.jsonl")
    assert verify(server, "--customer", c.id, "--anchor", anchor).returncode == 0
    client.credit_blocks.delete(first.credit_block.id)
    checked = verify(server, "--customer", c.id, "--anchor", anchor)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        f"rewritten since the anchor by credit block deletions: customer {c.id}" in checked.stdout
    )
    assert '"deleted_blocks": 1' in Path(anchor).read_text()
    assert verify(server, "--customer", c.id, "--anchor", anchor).returncode == 0


def test_a_damaged_anchor_is_refused_before_anything_is_verified(
    server: Server, tmp_path: Path
) -> None:
    anchor = tmp_path / "anchor.jsonl"
    anchor.write_text('{"drawdown_anchor": 1, "recorded_at": "x", "ledgers": 2}\n'
                      '{"customer_id": "c", "currency": "credits", "seq": 1}\n')  # fmt: skip
    refused = verify(server, "--anchor", str(anchor))
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"error: anchor: {anchor} line 2 is not a ledger head"


def newest_hash(server: Server, customer_id: str) -> str:
    with server.engine.connect() as conn:
        return str(conn.execute(text("SELECT chain_head FROM ledgers WHERE customer_id = :c"),
                                {"c": customer_id}).scalar_one())  # fmt: skip


def roll_back_newest(server: Server, customer_id: str, block_id: str) -> None:
    """Remove the newest entry (an increment) as a careful forger would: its command, the
    block it made, and the head, which now names the entry before it."""
    where = "customer_id = :c AND currency = 'credits'"
    with server.engine.begin() as conn:
        seq = conn.execute(text(f"SELECT max(seq) FROM ledger_entries WHERE {where}"),
                           {"c": customer_id}).scalar_one()  # fmt: skip
        previous = conn.execute(text(f"SELECT seq, ending_balance, hash, created_at FROM "
                                     f"ledger_entries WHERE {where} AND seq = :s"),
                                {"c": customer_id, "s": seq - 1}).one()  # fmt: skip
        conn.execute(text(f"DELETE FROM ledger_entries WHERE {where} AND seq = :s"),
                     {"c": customer_id, "s": seq})  # fmt: skip
        conn.execute(text(f"DELETE FROM ledger_commands WHERE {where} AND position = "
                          f"(SELECT max(position) FROM ledger_commands WHERE {where})"),
                     {"c": customer_id})  # fmt: skip
        conn.execute(text("DELETE FROM credit_blocks WHERE customer_id = :c AND id = :b"),
                     {"c": customer_id, "b": block_id})  # fmt: skip
        conn.execute(text(f"UPDATE ledgers SET last_seq = :s, balance = :b, chain_head = :h, "
                          f"last_entry_at = :t, last_position = last_position - 1 WHERE {where}"),
                     {"c": customer_id, "s": previous.seq, "b": previous.ending_balance,
                      "h": previous.hash, "t": previous.created_at})  # fmt: skip
