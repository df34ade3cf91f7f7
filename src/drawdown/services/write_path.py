"""The one write path: every mutation is a job of the process's committer, run as

    idempotency lookup → lock the customer → catch up on time → the use case → render →
    store the response → (the committer) commit, fsync, answer

all in one database transaction (docs/rules.md §1.9 rule 1a): after a crash either the writes and
their stored response both exist or neither does, so a retry gets the original response
or runs exactly once. The response is rendered before the commit, so no error can follow
a committed write. Use cases give a body (what to do) and, for HTTP, a `Replier` (how the
result and the errors look on the wire); this module knows neither the API nor billing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from drawdown.ledger import Command, Outcome, apply, chain, expire_due
from drawdown.ledger.amounts import exact_arithmetic
from drawdown.ledger.commands import Decrement, Increment
from drawdown.ledger.errors import LedgerError
from drawdown.ledger.model import Block, LedgerState
from drawdown.records import Customer, LedgerHead, StoredResponse
from drawdown.services.commands_codec import encode_command
from drawdown.services.context import ServiceContext, utc_now
from drawdown.services.errors import ResourceNotFound, ServiceError, WritesUnavailable
from drawdown.store import customers as customer_store
from drawdown.store import idempotency as idempotency_store
from drawdown.store import ledger_tables as store
from drawdown.store.clock import ClockSkewed
from drawdown.store.committer import LockKey
from drawdown.store.tx import Tx

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


# --- who the write is for ----------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRef:
    """A customer named by drawdown id or by the caller's external id."""

    id: str | None = None
    external_id: str | None = None

    def describe(self) -> str:
        return self.id if self.id is not None else f"external_customer_id={self.external_id}"

    def lock_key(self) -> LockKey:
        return LockKey(customer_id=self.id, external_id=self.external_id)


def find_customer(tx: Tx, ref: CustomerRef, *, lock: bool = False) -> Customer:
    """The live customer `ref` names (with its ledger heads loaded), or 404."""
    return _customer_with_heads(tx, ref, lock=lock)[0]


def live_customer(tx: Tx, ref: CustomerRef) -> Customer | None:
    """The live customer `ref` names, or None (a listing filtered on it is then empty)."""
    found = customer_store.with_heads(tx, customer_id=ref.id, external_id=ref.external_id,
                                      lock=False)  # fmt: skip
    return None if found is None else found[0]


def owners(tx: Tx, customer_ids: Iterable[str]) -> dict[str, Customer]:
    """The customers a page of listed rows belongs to, by id."""
    return {cid: find_customer(tx, CustomerRef(id=cid)) for cid in set(customer_ids)}


def _customer_with_heads(
    tx: Tx, ref: CustomerRef, *, lock: bool
) -> tuple[Customer, dict[str, LedgerHead]]:
    found = customer_store.with_heads(
        tx, customer_id=ref.id, external_id=ref.external_id, lock=lock
    )
    if found is None:
        raise ResourceNotFound("Customer", ref.describe())
    return found


# --- the customer's transaction ---------------------------------------------------------


@dataclass
class _Loaded:
    """A ledger's state as this transaction knows it, and which blocks were read as open.

    The state may hold only some of the ledger's open blocks (issue 23: a write reads only
    the blocks it needs): when not `complete`, every open block whose draw key is at most
    `through` (the first ones in drawdown order, `store.draw_key`) plus the blocks this
    transaction named or wrote. What needs them all (balances, expiries, an expiration
    change by date) asks for the complete state.
    """

    state: LedgerState
    open_ids: set[str]
    complete: bool = True
    through: str | None = None


@dataclass
class CustomerWrite:
    """An open write transaction holding one customer's lock, with one 'now'."""

    ctx: ServiceContext
    tx: Tx
    customer: Customer
    heads: dict[str, LedgerHead]
    now: datetime
    # Ledgers whose drawable balance may have dropped: top-ups are evaluated for them
    # (R-TOP-3) at the end of the write (`ServiceContext.write_endings`), which empties it.
    lowered: set[str] = field(default_factory=set)
    # Ledgers written in either direction: balance alerts are evaluated for them, likewise.
    changed: set[str] = field(default_factory=set)
    loaded: dict[str, _Loaded] = field(default_factory=dict)

    @property
    def customer_id(self) -> str:
        return self.customer.id

    def state(
        self, currency: str, block_ids: Iterable[str] = (), *, complete: bool = True
    ) -> LedgerState:
        """The ledger as it is now in this transaction, read once and then kept current:
        every open block (`complete`), or the first ones in drawdown order, with the blocks
        named in `block_ids` either way."""
        loaded = self.loaded.get(currency)
        if loaded is None:
            loaded = self.loaded[currency] = self._load(currency, complete)
        elif complete and not loaded.complete:
            self._complete(currency, loaded)
        missing = [b for b in block_ids if b not in loaded.state.blocks]
        if missing:
            blocks = dict(loaded.state.blocks)
            for block_id in missing:
                block = store.block_by_id(self.tx, self.customer_id, block_id)
                if block is not None and block.currency == currency:
                    blocks[block.id] = block
            loaded.state = _with_blocks(loaded.state, blocks)
        return loaded.state

    def covering(
        self, currency: str, amount: Decimal, item_id: str | None, block_ids: Iterable[str] = ()
    ) -> LedgerState:
        """The state a decrement of `amount` needs: the first open blocks in drawdown order,
        read page by page until the drawable credits among them cover `amount` (R-DED-3),
        or all of them when they cannot (R-DED-4 charges the last drawable one)."""
        state = self.state(currency, block_ids, complete=False)
        loaded = self.loaded[currency]
        while not loaded.complete and _covered(loaded, self.now, item_id) < amount:
            page = store.next_open_blocks(self.tx, self.customer_id, currency, loaded.through)
            blocks = {**page.blocks, **loaded.state.blocks}  # versions this tx wrote stay
            loaded.state = _with_blocks(loaded.state, blocks)
            loaded.open_ids |= set(page.blocks)
            loaded.complete, loaded.through = page.complete, page.through
            state = loaded.state
        return state

    def open_block_count(self, currency: str) -> int:
        """How many open blocks the ledger has (counted by the database unless all are read)."""
        loaded = self.loaded.get(currency)
        if currency not in self.heads:
            return 0
        if loaded is not None and loaded.complete:
            return len(loaded.open_ids)
        return store.count_open_blocks(self.tx, self.customer_id, currency)

    def _load(self, currency: str, complete: bool) -> _Loaded:
        head = self.heads.get(currency)
        if head is None:
            return _Loaded(_state_of(self, currency, None, {}), set())
        if complete:
            blocks = store.open_blocks(self.tx, self.customer_id, currency)
            return _Loaded(_state_of(self, currency, head, blocks), set(blocks))
        first = store.first_open_blocks(self.tx, self.customer_id, currency)
        state = _state_of(self, currency, head, first.blocks)
        return _Loaded(state, set(first.blocks), first.complete, first.through)

    def _complete(self, currency: str, loaded: _Loaded) -> None:
        everything = store.open_blocks(self.tx, self.customer_id, currency)
        blocks = {**everything, **loaded.state.blocks}  # versions this tx wrote stay
        loaded.state = _with_blocks(loaded.state, blocks)
        loaded.open_ids |= set(everything)
        loaded.complete, loaded.through = True, None


def _covered(loaded: _Loaded, now: datetime, item_id: str | None) -> Decimal:
    """The drawable credits a decrement can take from the blocks read in drawdown order."""
    through = loaded.through or ""
    with exact_arithmetic():
        return sum(
            (b.balance for b in loaded.state.blocks.values()
             if b.balance > 0 and b.is_drawable(now) and b.admits(item_id)
             and store.draw_key(b) <= through),
            Decimal(0),
        )  # fmt: skip


def _state_of(
    write: CustomerWrite, currency: str, head: LedgerHead | None, blocks: dict[str, Block]
) -> LedgerState:
    if head is None:
        genesis = chain.genesis(write.customer_id, currency)
        return LedgerState(currency, {}, 0, Decimal(0), None, genesis)
    return LedgerState(
        currency,
        blocks,
        head.last_seq,
        head.balance,
        head.last_entry_at,
        head.chain_head or chain.genesis(write.customer_id, currency),
    )


def _with_blocks(state: LedgerState, blocks: dict[str, Block]) -> LedgerState:
    return LedgerState(
        state.currency, blocks, state.last_seq, state.balance, state.last_entry_at,
        state.chain_head,
    )  # fmt: skip


def run_command(write: CustomerWrite, currency: str, command: Command, *,
                block_ids: Iterable[str] = ()) -> Outcome:  # fmt: skip
    """Apply one command to a ledger, persist the outcome, log the command for replay.

    A decrement reads the blocks it draws from, an increment none but those it names; every
    other command, the complete ledger (issue 23)."""
    if isinstance(command, Decrement):
        before = write.covering(currency, command.amount, command.item_id, block_ids)
    else:
        before = write.state(currency, block_ids, complete=not isinstance(command, Increment))
    outcome = apply(before, command, write.now, write.ctx.new_id)
    kind, payload = encode_command(command)
    _persist(write, currency, before, outcome, command_log=(kind, payload))
    if not isinstance(command, Increment):  # R-TOP-3: increments never trigger top-ups
        write.lowered.add(currency)
    return outcome


def catch_up(write: CustomerWrite) -> None:
    """Materialize every due expiry of the customer, ledger by ledger (R-TIME-1)."""
    for currency, head in sorted(write.heads.items()):
        if head.next_expiry_at is not None and head.next_expiry_at <= write.now:
            before = write.state(currency)
            outcome = expire_due(before, write.now)
            _persist(write, currency, before, outcome, command_log=None)
            if outcome.entries:
                write.lowered.add(currency)


def has_due_expiry(heads: dict[str, LedgerHead], now: datetime) -> bool:
    return any(h.next_expiry_at is not None and h.next_expiry_at <= now for h in heads.values())


def _persist(
    write: CustomerWrite,
    currency: str,
    before: LedgerState,
    outcome: Outcome,
    *,
    command_log: tuple[str, dict[str, Any]] | None,
) -> None:
    tx, now, customer_id = write.tx, write.now, write.customer_id
    head = write.heads.get(currency)
    if head is None:
        head = store.create_head(tx, customer_id, currency, before.chain_head)
    loaded = write.loaded[currency]
    changed = {b.id: b for b in outcome.changed_blocks}
    # Blocks read as open that are closed now (e.g. a negative block past its expiry, which
    # gets no entry, R-NEG-3) are written too, so they are never read again.
    for block_id in loaded.open_ids:
        block = outcome.state.blocks[block_id]
        if block_id not in changed and store.is_closed(block, now):
            changed[block_id] = block
    new = [b for b in changed.values() if b.id not in before.blocks]
    updated = [b for b in changed.values() if b.id in before.blocks]
    position = head.last_position
    if command_log is not None:
        position += 1
        store.append_command(tx, customer_id, currency, position, *command_log, now)
    upcoming = (next_expiry(outcome.state, now) if loaded.complete
                else _next_expiry_of_part(head, outcome.changed_blocks, now))  # fmt: skip
    head = LedgerHead(
        currency, outcome.state.last_seq, outcome.state.balance, outcome.state.last_entry_at,
        position, upcoming, head.top_up_id, outcome.state.chain_head,
    )  # fmt: skip
    store.persist(tx, customer_id, state=outcome.state, entries=outcome.entries,
                  new_blocks=new, changed_blocks=updated, head=head, now=now)  # fmt: skip
    write.heads[currency] = head
    write.changed.add(currency)
    open_now = {b.id for b in outcome.state.blocks.values() if not store.is_closed(b, now)}
    write.loaded[currency] = _Loaded(outcome.state, open_now, loaded.complete, loaded.through)
    if outcome.entries:
        # Counted once the batch commits: a rolled-back job (or a batch run again job by
        # job) wrote nothing.
        entries, observer = outcome.entries, write.ctx.observer
        tx.on_commit(lambda: observer.emit("entries_written", entries=entries))


def next_expiry(state: LedgerState, now: datetime) -> datetime | None:
    """The earliest expiry still ahead: when this ledger next needs catching up."""
    ahead = [b.expiry_date for b in state.blocks.values() if b.expiry_date and b.expiry_date > now]
    return min(ahead, default=None)


def _next_expiry_of_part(
    head: LedgerHead, changed: Iterable[Block], now: datetime
) -> datetime | None:
    """The same, when only part of the ledger was read: the head's horizon (still ahead:
    the write path caught up first) or a changed block's expiry, whichever is earlier. An
    early horizon is safe — it only makes a catch-up look, and compute it again."""
    ahead = [b.expiry_date for b in changed if b.expiry_date and b.expiry_date > now]
    if head.next_expiry_at is not None and head.next_expiry_at > now:
        ahead.append(head.next_expiry_at)
    return min(ahead, default=None)


def set_top_up(write: CustomerWrite, currency: str, top_up_id: str | None) -> None:
    """Record a ledger's active top-up in its head, creating the (empty) ledger if needed."""
    head = write.heads.get(currency)
    if head is None:
        genesis = chain.genesis(write.customer_id, currency)
        head = store.create_head(write.tx, write.customer_id, currency, genesis)
    store.set_top_up(write.tx, write.customer_id, currency, top_up_id)
    write.heads[currency] = LedgerHead(
        head.currency, head.last_seq, head.balance, head.last_entry_at, head.last_position,
        head.next_expiry_at, top_up_id, head.chain_head,
    )  # fmt: skip


# --- replies: what an HTTP write stores and answers ----------------------------------------


@dataclass(frozen=True)
class Reply:
    """A rendered response: what is sent, and for idempotent requests, stored."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    replayed: bool = False


class Replier(Protocol[T_contra]):
    """How a use case's result and its errors look on the wire (given by the API)."""

    def ok(self, result: T_contra) -> Reply: ...

    def failed(self, error: Exception) -> Reply | None:
        """The reply for a domain error, or None for an unexpected one (a 5xx)."""
        ...


@dataclass(frozen=True)
class Idempotency:
    """A POST's Idempotency-Key, scoped to the API key that sent it, and its fingerprint."""

    scope: str
    key: str
    fingerprint: str


class KeyReusedWithDifferentRequest(ServiceError):
    kind = "conflict"
    retryable = False  # docs/rules.md §1.9 rule 4: the API sends `x-should-retry: false`

    def __init__(self) -> None:
        super().__init__(
            None,
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request.",
        )


class KeyInProgress(ServiceError):
    kind = "conflict"

    def __init__(self) -> None:
        super().__init__(None, "A request with this Idempotency-Key is still in progress.")


def _stored_reply(
    tx: Tx, ctx: ServiceContext, idempotency: Idempotency, replier: Replier[Any], now: datetime
) -> Reply | None:
    """§1.9 rules 2-4 for a key seen before, or None for a key to use now."""
    stored = idempotency_store.lookup(tx, idempotency.scope, idempotency.key)
    if stored is None:
        return None
    if stored.created_at < now - timedelta(hours=ctx.settings.idempotency_ttl_hours):
        idempotency_store.forget(tx, idempotency.scope, idempotency.key)
        return None
    if stored.fingerprint != idempotency.fingerprint:
        return _conflict(replier, KeyReusedWithDifferentRequest())
    if stored.status_code == idempotency_store.IN_PROGRESS:
        return _conflict(replier, KeyInProgress())
    return Reply(stored.status_code, stored.body, replayed=True)


def _conflict(replier: Replier[Any], error: ServiceError) -> Reply:
    reply = replier.failed(error)
    assert reply is not None
    return reply


def _storable(error: Exception) -> bool:
    """§1.9 rule 1: business outcomes are stored; refusals before the request began are not."""
    kind = getattr(error, "kind", None)
    return isinstance(error, LedgerError | ServiceError) and kind != "validation"


# --- work and jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Work(Generic[T]):
    """What a use case wants written: a body run in the committer's transaction.

    The caller decides how to run it: `run` (wait, get the result) for the CLI and the
    console, `reply` (rendered, idempotent, awaitable) for the HTTP API.
    """

    body: Callable[[ServiceContext, Tx, datetime], T]
    lock: LockKey | None = None

    def pending(self, ctx: ServiceContext) -> Pending[T]:
        return Pending(ctx.db.submit(_Job(ctx, self, replier=None, idempotency=None)))

    def run(self, ctx: ServiceContext) -> T:
        return self.pending(ctx).wait()

    def reply(
        self, ctx: ServiceContext, replier: Replier[T], idempotency: Idempotency | None
    ) -> Pending[Reply]:
        job = _Job(ctx, self, replier=replier, idempotency=idempotency)
        return Pending(ctx.db.submit(job))


def work(body: Callable[[Tx, datetime], T]) -> Work[T]:
    """Work that concerns no existing customer (API keys, admins, a new customer)."""
    return Work(lambda _ctx, tx, now: body(tx, now))


def customer_work(ref: CustomerRef, body: Callable[[CustomerWrite], T]) -> Work[T]:
    """Work on one customer's data: locked, caught up on due expiries first (R-TIME-1), and
    ended by the write path itself: the context's `write_endings` (top-ups, then balance
    alerts) run after the use case, on every ledger it lowered or changed, in the same
    transaction. No use case calls them, so none can forget them."""

    def run(ctx: ServiceContext, tx: Tx, now: datetime) -> T:
        customer, heads = _customer_with_heads(tx, ref, lock=True)
        write = CustomerWrite(ctx=ctx, tx=tx, customer=customer, heads=heads, now=now)
        catch_up(write)
        result = body(write)
        for ending in ctx.write_endings:
            ending(write)
        assert not write.lowered and not write.changed, "every ending consumed its ledgers"
        return result

    return Work(run, lock=ref.lock_key())


class _Job(Generic[T]):
    """A committer job: the work's body, with idempotency and rendering around it."""

    def __init__(
        self,
        ctx: ServiceContext,
        work: Work[T],
        *,
        replier: Replier[T] | None,
        idempotency: Idempotency | None,
    ) -> None:
        self.ctx, self.work, self.lock = ctx, work, work.lock
        self.replier, self.idempotency = replier, idempotency
        self.now = ctx.now()

    @property
    def idempotency_key(self) -> tuple[str, str] | None:
        """What the batch loads for this job's replay check (`store/prefetch.py`)."""
        if self.replier is None or self.idempotency is None:
            return None
        return (self.idempotency.scope, self.idempotency.key)

    def _time(self, tx: Tx) -> None:
        """One clock (store/clock.py): on PostgreSQL the batch's "now" is the database's,
        unless a test injected its own clock into the context."""
        if tx.database_now is not None and self.ctx.clock is utc_now:
            self.now = tx.database_now

    def run(self, tx: Tx) -> Any:
        self._time(tx)
        if self.replier is not None and self.idempotency is not None:
            earlier = _stored_reply(tx, self.ctx, self.idempotency, self.replier, self.now)
            if earlier is not None:
                return earlier
        result = self.work.body(self.ctx, tx, self.now)
        if self.replier is None:
            return result
        reply = self.replier.ok(result)
        self._store(tx, reply)
        return reply

    def recover(self, tx: Tx, error: Exception) -> Any:
        if self.replier is None:
            raise error
        if self.idempotency is not None:
            # On PostgreSQL a concurrent twin may have committed this key meanwhile.
            earlier = _stored_reply(tx, self.ctx, self.idempotency, self.replier, self.now)
            if earlier is not None:
                return earlier
        reply = self.replier.failed(error)
        if reply is None:
            raise error
        if _storable(error):
            self._store(tx, reply)
        return reply

    def _store(self, tx: Tx, reply: Reply) -> None:
        if self.idempotency is None:
            return
        response = StoredResponse(self.idempotency.fingerprint, reply.status, reply.body,
                                  self.now)  # fmt: skip
        idempotency_store.store(tx, self.idempotency.scope, self.idempotency.key, response)


class Pending(Generic[T]):
    """A queued write: `.wait()` from a thread, `await` on the event loop."""

    def __init__(self, future: concurrent.futures.Future[T] | asyncio.Future[T]) -> None:
        self._future = future

    def wait(self) -> T:
        future = self._future
        # On the event loop a write must be awaited: waiting would block the loop that runs it.
        assert isinstance(future, concurrent.futures.Future), "await writes on the event loop"
        try:
            return future.result()
        except ClockSkewed as skewed:
            raise WritesUnavailable(str(skewed)) from skewed

    def __await__(self) -> Generator[Any, None, T]:
        return self._result().__await__()

    async def _result(self) -> T:
        future = self._future
        waited = future if isinstance(future, asyncio.Future) else asyncio.wrap_future(future)
        try:
            return await waited
        except ClockSkewed as skewed:  # the batch refused: one clock (store/clock.py)
            raise WritesUnavailable(str(skewed)) from skewed
