"""`drawdown verify`: the ledger proves itself, ledger by ledger (issue 11).

For every ledger (customer, currency) it checks, in one read transaction per ledger:

1. **The hash chain** (`ledger/chain.py`): every stored entry's hash is recomputed from its
   stored content and the previous entry's stored hash; sequence numbers run 1..n without
   gaps and each entry starts where the previous one ended.
2. **The head**: the ledger row's `last_seq`, `balance` and `chain_head` are those of the
   newest entry.
3. **The replay**: the ledger's command log is replayed through the pure core
   (`ledger.replay`, as block deletion and `as_of` do) up to the newest stored instant; the
   entries it derives, chained with the stored entry ids, must hash exactly to the stored
   hashes, and its final balance and blocks (balance, voided, expired, moved out, status,
   expiry) must equal the stored ones.

4. **The anchor**, when given one (`Head`s recorded by an earlier verify and kept off the
   machine, services/anchors.py): the entry at each anchored sequence number must still
   have the anchored hash. The checks above cannot see a rollback made consistently (the
   newest entry, its command, the head and the block rewritten together): what is left is
   a valid, shorter history. Against an anchor it is a ledger whose newest entry is older
   than the anchored one, or whose entry at the anchored seq differs. Deleting a credit
   block rewrites a ledger legitimately (R-DEL-1); a ledger that has more deleted blocks
   than when it was anchored is reported as rewritten, not as a mismatch.

`record` keeps the outcome as the last run of `drawdown verify` (`drawdown status` shows
it).

It also checks each customer's cash balance (the customer balance transactions): every
transaction starts where the previous one ended (from 0), moves the balance by its amount in
its direction, and the customer's cached balance is the newest one's ending balance.

A change made behind drawdown's back — an UPDATE of an amount, a deleted or reordered
entry, an altered block balance — fails at least one of these. The result lists every
mismatch found; the first one is what the command names when it exits non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from drawdown.ledger import chain, replay
from drawdown.ledger.model import Block, Entry
from drawdown.records import CommandRun
from drawdown.services import write_path
from drawdown.services.commands_codec import decode_command
from drawdown.services.context import ServiceContext
from drawdown.store import anchors as anchor_store
from drawdown.store import balance_transactions as cash_store
from drawdown.store import ledger_tables as store
from drawdown.store import status as status_store
from drawdown.store.tx import Tx

VERIFY_COMMAND = "verify"  # its row in command_runs

# Block fields the replay must reproduce (metadata is live, E21, and not in the log).
_BLOCK_FIELDS = (
    "balance", "maximum_initial_balance", "moved_out", "voided", "expired", "expiry_date",
    "effective_date", "status", "created_seq",
)  # fmt: skip


@dataclass(frozen=True)
class Mismatch:
    customer_id: str
    currency: str
    what: str

    def __str__(self) -> str:
        return f"customer {self.customer_id} ledger {self.currency}: {self.what}"


@dataclass(frozen=True)
class Head:
    """A ledger's newest entry as verified (what an anchor records), and how many of its
    blocks were deleted by then."""

    customer_id: str
    currency: str
    seq: int
    hash: str
    deleted_blocks: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.customer_id, self.currency


Anchor = Mapping[tuple[str, str], Head]


@dataclass
class Report:
    ledgers: int = 0
    entries: int = 0
    commands: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    heads: list[Head] = field(default_factory=list)
    # Ledgers rewritten since the anchor by block deletions: legitimate, but worth a look.
    rewritten: list[Mismatch] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches


Progress = Callable[[int, int], None]


def verify(
    ctx: ServiceContext,
    customer_id: str | None = None,
    progress: Progress | None = None,
    anchor: Anchor | None = None,
) -> Report:
    """Check every ledger (or one customer's), against `anchor` if given; `progress(done,
    total)` after each ledger. The report's heads are what a new anchor records."""
    with ctx.db.read() as tx:
        keys = store.ledger_keys(tx, customer_id)
        deleted = anchor_store.deleted_block_counts(tx, customer_id)
    report = Report()
    for done, key in enumerate(keys, start=1):
        with ctx.db.read() as tx:
            entries = list(store.ledger_entries_in_order(tx, *key))
            found = verify_ledger(ctx, tx, *key, entries, report)
        report.mismatches.extend(Mismatch(*key, what) for what in found)
        if entries:
            report.heads.append(Head(*key, entries[-1].seq, entries[-1].hash, deleted.get(key, 0)))
        if anchor is not None and key in anchor:
            _check_anchored(report, anchor[key], entries, deleted.get(key, 0))
        report.ledgers += 1
        if progress is not None:
            progress(done, len(keys))
    present = set(keys)
    for key, anchored in sorted((anchor or {}).items()):
        if key not in present and customer_id in (None, key[0]):
            report.mismatches.append(Mismatch(*key, f"the ledger is gone; {_at(anchored)}"))
    _verify_cash_balances(ctx, customer_id, report)
    return report


SUMMARY_LENGTH_MAX = 1000


def record(
    ctx: ServiceContext, report: Report, customer_id: str | None, started_at: datetime
) -> CommandRun:
    """Keep this run as the last `drawdown verify`: when, whether it passed, one line."""
    scope = "every ledger" if customer_id is None else f"the ledgers of customer {customer_id}"
    if report.clean:
        outcome = (f"{report.ledgers} ledger(s), {report.entries} entries, {report.commands} "
                   "commands: no mismatch")  # fmt: skip
    else:
        outcome = f"{len(report.mismatches)} mismatch(es), first: {report.mismatches[0]}"
    summary = f"{scope}: {outcome}"[:SUMMARY_LENGTH_MAX]

    def keep(tx: Tx, now: datetime) -> CommandRun:
        run = CommandRun(VERIFY_COMMAND, started_at, now, report.clean, summary)
        status_store.record_run(tx, run)
        return run

    return write_path.work(keep).run(ctx)


CASH_BALANCE = "(cash balance)"  # the mismatch's "ledger": the customer's money, not credits


def _verify_cash_balances(ctx: ServiceContext, customer_id: str | None, report: Report) -> None:
    with ctx.db.read() as tx:
        owners = cash_store.owners(tx, customer_id)
    for owner in owners:
        with ctx.db.read() as tx:
            found = cash_balance_problems(tx, owner)
        report.mismatches.extend(Mismatch(owner, CASH_BALANCE, what) for what in found)


def cash_balance_problems(tx: Tx, customer_id: str) -> list[str]:
    """What is wrong with one customer's cash-balance chain (the first problem), or nothing."""
    balance = Decimal(0)
    for expected_seq, move in enumerate(cash_store.in_order(tx, customer_id), start=1):
        sign = 1 if move.type == "increment" else -1
        if move.seq != expected_seq:
            return [f"transaction numbers jump from {expected_seq - 1} to {move.seq}"]
        if move.starting_balance != balance:
            return [f"transaction {move.id} (seq {move.seq}) starts at "
                    f"{move.starting_balance}, the previous one ended at {balance}"]  # fmt: skip
        if move.amount <= 0:
            return [f"transaction {move.id} (seq {move.seq}) moves {move.amount}"]
        balance += sign * move.amount
        if move.ending_balance != balance:
            return [f"transaction {move.id} (seq {move.seq}) ends at {move.ending_balance}, "
                    f"its {move.type} of {move.amount} ends at {balance}"]  # fmt: skip
    cached = cash_store.cached_balance(tx, customer_id)
    if cached != balance:
        return [f"the customer's balance {cached} is not its newest transaction's {balance}"]
    return []


def verify_ledger(
    ctx: ServiceContext, tx: Tx, customer_id: str, currency: str, entries: list[Entry],
    report: Report,
) -> list[str]:  # fmt: skip
    """What is wrong with one ledger (the first problems of each check), or nothing."""
    report.entries += len(entries)
    problems = _chain_problems(customer_id, currency, entries)
    problems += _head_problems(tx, customer_id, currency, entries)
    problems += _replay_problems(ctx, tx, customer_id, currency, entries, report)
    return problems


def _check_anchored(report: Report, anchored: Head, entries: list[Entry], deleted: int) -> None:
    """The ledger must still hold the anchored entry (the chain check proves what precedes
    it), unless block deletions since the anchor rewrote it."""
    entry = next((e for e in entries if e.seq == anchored.seq), None)
    if entry is not None and entry.hash == anchored.hash:
        return
    if entry is None:
        newest = entries[-1].seq if entries else 0
        what = f"rolled back to before the anchor: the newest entry is seq {newest}; "
    else:
        what = f"differs from the anchor: entry {entry.id} has hash {entry.hash}; "
    finding = Mismatch(anchored.customer_id, anchored.currency, what + _at(anchored))
    if deleted > anchored.deleted_blocks:
        report.rewritten.append(finding)
    else:
        report.mismatches.append(finding)


def _at(anchored: Head) -> str:
    return f"the anchor has seq {anchored.seq} (hash {anchored.hash})"


def _chain_problems(customer_id: str, currency: str, entries: list[Entry]) -> list[str]:
    previous = chain.genesis(customer_id, currency)
    balance = Decimal(0)
    for expected_seq, entry in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            return [f"sequence numbers jump from {expected_seq - 1} to {entry.seq}"]
        if entry.starting_balance != balance:
            return [f"entry {entry.id} (seq {entry.seq}) starts at {entry.starting_balance}, "
                    f"the previous entry ended at {balance}"]  # fmt: skip
        if entry.hash != entry_digest(previous, entry):
            return [f"entry {entry.id} (seq {entry.seq}): stored hash differs from the hash "
                    "of its stored content"]  # fmt: skip
        previous, balance = entry.hash, entry.ending_balance
    return []


def entry_digest(previous: str, entry: Entry, *, entry_id: str | None = None,
                 block_id: str | None = None) -> str:  # fmt: skip
    return chain.digest(
        previous,
        entry_id=entry_id or entry.id, currency=entry.currency, seq=entry.seq,
        entry_type=entry.entry_type, amount=entry.amount,
        starting_balance=entry.starting_balance, ending_balance=entry.ending_balance,
        block_id=block_id or entry.block_id, created_at=entry.created_at,
        description=entry.description, metadata=entry.metadata,
        void_amount=entry.void_amount, void_reason=entry.void_reason,
        new_block_expiry_date=entry.new_block_expiry_date,
    )  # fmt: skip


def _head_problems(tx: Tx, customer_id: str, currency: str, entries: list[Entry]) -> list[str]:
    head = store.ledger_head(tx, customer_id, currency)
    if head is None:
        return ["the ledger row is missing"]
    last = entries[-1] if entries else None
    expected = (
        (last.seq, last.ending_balance, last.hash)
        if last is not None
        else (0, Decimal(0), head.chain_head or chain.genesis(customer_id, currency))
    )
    stored = (head.last_seq, head.balance, head.chain_head or chain.genesis(customer_id, currency))
    if stored != expected:
        return [f"the head (last_seq {stored[0]}, balance {stored[1]}, chain head {stored[2]}) "
                f"does not match the newest entry (seq {expected[0]}, balance {expected[1]}, "
                f"hash {expected[2]})"]  # fmt: skip
    return []


def _replay_problems(
    ctx: ServiceContext,
    tx: Tx,
    customer_id: str,
    currency: str,
    entries: list[Entry],
    report: Report,
) -> list[str]:
    logged = store.load_commands(tx, customer_id, currency)
    report.commands += len(logged)
    if not logged and not entries:
        return []
    commands = [(at, decode_command(kind, payload)) for _, kind, payload, at in logged]
    instants = [at for at, _ in commands] + [e.created_at for e in entries]
    until = max(instants)
    genesis = chain.genesis(customer_id, currency)
    outcome = replay(commands, currency, until, ctx.new_id, chain_start=genesis)
    derived = list(outcome.entries)
    renamed = _deficit_block_ids(derived, entries)
    problems: list[str] = []
    previous = genesis
    for index in range(max(len(derived), len(entries))):
        if index >= len(entries):
            problems.append(f"the command log derives entry seq {derived[index].seq} "
                            f"({derived[index].entry_type}), which is not stored")  # fmt: skip
            break
        stored = entries[index]
        if index >= len(derived):
            problems.append(f"entry {stored.id} (seq {stored.seq}) is not derived from the "
                            "command log")  # fmt: skip
            break
        mine = derived[index]
        block_id = renamed.get(mine.block_id, mine.block_id)
        if entry_digest(previous, mine, entry_id=stored.id, block_id=block_id) != stored.hash:
            problems.append(
                f"entry {stored.id} (seq {stored.seq}) differs from its replay: stored "
                f"{_describe(stored, stored.block_id)}, replayed {_describe(mine, block_id)}"
            )
            break
        previous = stored.hash
    if outcome.state.balance != (entries[-1].ending_balance if entries else Decimal(0)):
        problems.append(f"replayed balance {outcome.state.balance} differs from the stored one")
    problems += _block_problems(tx, customer_id, currency, outcome.state.blocks.values(), renamed)
    return problems[:3]


def _describe(entry: Entry, block_id: str) -> str:
    return (f"{entry.entry_type} {entry.amount} on {block_id} "
            f"({entry.starting_balance} -> {entry.ending_balance})")  # fmt: skip


def _deficit_block_ids(derived: list[Entry], entries: list[Entry]) -> dict[str, str]:
    """Replay draws new ids for the deficit blocks of decrements logged without
    `deficit_block_id`; entry k of the replay is stored entry k, so such a block id maps to
    the stored block id at the same position. Only ids no stored entry names are renamed:
    an entry moved to another block by SQL, and re-chained, must still differ."""
    known = {e.block_id for e in entries}
    renamed: dict[str, str] = {}
    for mine, stored in zip(derived, entries, strict=False):
        fresh = mine.block_id not in known and mine.block_id not in renamed
        if fresh and mine.block_id != stored.block_id:
            renamed[mine.block_id] = stored.block_id
    return renamed


def _block_problems(
    tx: Tx, customer_id: str, currency: str, replayed: Iterable[Block], renamed: dict[str, str]
) -> list[str]:
    stored = {b.id: b for b in store.ledger_blocks(tx, customer_id, currency, open_only=False)}
    for block in replayed:
        block_id = renamed.get(block.id, block.id)
        live = stored.get(block_id)
        if live is None:
            return [f"block {block_id} of the replay is not stored"]
        for name in _BLOCK_FIELDS:
            mine, theirs = getattr(block, name), getattr(live, name)
            if mine != theirs:
                return [f"block {block_id}: stored {name} {_text(theirs)}, replayed {_text(mine)}"]
    return []


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
