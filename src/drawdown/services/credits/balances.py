"""Balances people can act on: the summary, point-in-time state, the dry-run decrement and
the overdraft guard (R-FIN-1..4; issue 14; all drawdown extensions of Orb's API).

* The summary splits each ledger's balance L into available / scheduled / awaiting payment
  (`ledger/balances.summarize`).
* `as_of` answers from the ledger itself: the ledger's command log up to that instant is
  replayed through the pure core (`ledger.replay`), exactly as block deletion does, and
  the replayed blocks get their stored ids back by matching entries by sequence number.
* A preview plans the decrement and applies it to the current state in a read
  transaction: the entries it would write, nothing written.
* The overdraft guard refuses a decrement above the available balance when the customer's
  policy (or the server's, `DRAWDOWN_OVERDRAFT`) is "refuse"; top-ups that the decrement
  would trigger do not count, the comparison is with the balance before it.
"""

from __future__ import annotations

from datetime import datetime

from drawdown.ledger import apply, chain, entry_status, replay
from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.balances import Summary, summarize
from drawdown.ledger.commands import Decrement
from drawdown.ledger.dates import resolve_bounds, resolve_instant
from drawdown.ledger.model import Block, LedgerState
from drawdown.ledger.ordering import drawdown_order
from drawdown.records import Customer
from drawdown.services.commands_codec import decode_command
from drawdown.services.context import ServiceContext
from drawdown.services.credits import planning, reads
from drawdown.services.credits.planning import Planned
from drawdown.services.credits.views import EntryView
from drawdown.services.entry_input import DecrementRequest
from drawdown.services.errors import ConstraintViolation, InvalidField
from drawdown.services.write_path import CustomerRef, CustomerWrite, find_customer
from drawdown.store import customers as customer_store
from drawdown.store import ledger_tables as store
from drawdown.store.sqlfuncs import compare
from drawdown.store.tx import Tx


class OverdraftRefused(ConstraintViolation):
    """A decrement above the available balance under the "refuse" overdraft policy."""


def overdraft_policy(ctx: ServiceContext, customer: Customer) -> str:
    return customer.overdraft or ctx.settings.overdraft


def refuse_overdraft(write: CustomerWrite, planned: Planned) -> None:
    """Raise OverdraftRefused for a decrement the customer's policy does not allow."""
    command = planned.command
    if (
        not isinstance(command, Decrement)
        or overdraft_policy(write.ctx, write.customer) != "refuse"
    ):
        return
    available = summarize(write.state(planned.currency), write.now).available
    if command.amount > available:
        raise OverdraftRefused(
            "amount",
            f"exceeds the available balance of {format_decimal(available)} "
            f"{planned.currency}; this customer's overdraft policy is refuse",
        )


# --- the summary -----------------------------------------------------------------------


def parse_as_of(raw: str | None, customer: Customer, now: datetime) -> datetime | None:
    if raw is None:
        return None
    at = resolve_instant(raw, customer.timezone, field="as_of")
    if at > now:
        raise InvalidField("as_of", "must not be in the future")
    return at


def summaries(
    ctx: ServiceContext, ref: CustomerRef, currency: str | None, as_of: str | None
) -> list[Summary]:
    """One summary per ledger of the customer (or the one `currency` names), now or as of."""
    if as_of is not None:
        return _summaries_as_of(ctx, ref, currency, as_of)

    def read(tx: Tx, customer: Customer, now: datetime) -> list[Summary]:
        return [summarize(_current_state(tx, customer.id, c), now)
                for c in _currencies(tx, customer, currency)]  # fmt: skip

    return reads.read_caught_up(ctx, ref, read)


def _currencies(tx: Tx, customer: Customer, asked: str | None) -> list[str]:
    currencies = [c for c, _ in store.balances(tx, [customer.id])[customer.id]]
    if asked is None:
        return currencies
    wanted = reads.listing_currency(asked)
    return [c for c in currencies if c == wanted]


def _current_state(tx: Tx, customer_id: str, currency: str) -> LedgerState:
    return LedgerState(currency, store.open_blocks(tx, customer_id, currency))


def _summaries_as_of(
    ctx: ServiceContext, ref: CustomerRef, currency: str | None, raw: str
) -> list[Summary]:
    with ctx.db.read() as tx:
        customer = find_customer(tx, ref)
        at = parse_as_of(raw, customer, ctx.now())
        assert at is not None
        states = [state_at(ctx, tx, customer.id, c, at)
                  for c in _currencies(tx, customer, currency)]  # fmt: skip
    return [summarize(s, at) for s in states if s.last_seq > 0]


# --- point in time ---------------------------------------------------------------------


def state_at(ctx: ServiceContext, tx: Tx, customer_id: str, currency: str, at: datetime
             ) -> LedgerState:  # fmt: skip
    """The ledger exactly as it was at `at`: its command log replayed up to that instant."""
    logged = [
        (when, decode_command(kind, payload))
        for _, kind, payload, when in store.load_commands(tx, customer_id, currency)
        if when <= at
    ]
    genesis = chain.genesis(customer_id, currency)
    state = replay(logged, currency, at, ctx.new_id, chain_start=genesis).state
    return _with_stored_ids(tx, customer_id, state)


def _with_stored_ids(tx: Tx, customer_id: str, state: LedgerState) -> LedgerState:
    """Replay draws new ids for deficit blocks (every other block id is in its command).
    A block's first entry has its `created_seq`, and replayed entry k is stored entry k, so
    a deficit block takes the id of the block stored entry `created_seq` was written on."""
    stored = store.blocks_by_id(tx, customer_id, state.blocks)
    fresh = {b.created_seq: b.id for b in state.blocks.values() if b.id not in stored}
    renamed: dict[str, str] = {}
    if fresh:
        for entry in store.ledger_entries_in_order(tx, customer_id, state.currency):
            if entry.seq > max(fresh):
                break
            if entry.seq in fresh:
                renamed[fresh[entry.seq]] = entry.block_id
        stored.update(store.blocks_by_id(tx, customer_id, renamed.values()))
    blocks: dict[str, Block] = {}
    for block in state.blocks.values():
        block_id = renamed.get(block.id, block.id)
        live = stored.get(block_id)
        metadata = live.metadata if live is not None else block.metadata  # E21 is not logged
        blocks[block_id] = block.evolve(id=block_id, metadata=metadata)
    return LedgerState(state.currency, blocks, state.last_seq, state.balance,
                       state.last_entry_at, state.chain_head)  # fmt: skip


def blocks_as_of(
    ctx: ServiceContext, ref: CustomerRef, query: reads.BlockQuery, raw: str
) -> list[Block]:
    """E8 as of an instant: the same filters and order, over the replayed blocks."""
    with ctx.db.read() as tx:
        customer = find_customer(tx, ref)
        at = parse_as_of(raw, customer, ctx.now())
        assert at is not None
        currency = reads.listing_currency(query.currency) or "credits"
        state = state_at(ctx, tx, customer.id, currency, at)
    bounds = resolve_bounds(query.effective_date, customer.timezone, field="effective_date")
    shown = [b for b in state.blocks.values()
             if query.include_all_blocks or reads.listed_by_default(b, at)]  # fmt: skip
    shown = [b for b in shown if all(compare(b.effective_date, op, v) for op, v in bounds)]
    return drawdown_order(shown)


# --- the dry-run decrement --------------------------------------------------------------


def preview_decrement(
    ctx: ServiceContext, ref: CustomerRef, request: DecrementRequest
) -> list[EntryView]:
    """The entries a decrement would write now, in order; nothing is written. Entry ids (and
    a deficit block's id) are drawn for the preview only: the real decrement draws its own.
    Top-ups the decrement would trigger are not part of it."""

    def read(tx: Tx, customer: Customer, now: datetime) -> list[EntryView]:
        found = customer_store.with_heads(tx, customer_id=customer.id, external_id=None,
                                          lock=False)  # fmt: skip
        assert found is not None
        write = CustomerWrite(ctx=ctx, tx=tx, customer=customer, heads=found[1], now=now)
        planned = planning.plan_decrement(write, request)
        refuse_overdraft(write, planned)
        outcome = apply(write.state(planned.currency), planned.command, now, ctx.new_id)
        blocks = outcome.state.blocks
        return [EntryView(e, blocks[e.block_id], customer, entry_status(e, blocks[e.block_id],
                                                                        now))
                for e in outcome.entries]  # fmt: skip

    return reads.read_caught_up(ctx, ref, read)
