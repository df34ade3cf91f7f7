"""SQL for what an operator looks at (`drawdown status`): the serving processes, the last run
of a command, and the background work waiting — webhook deliveries, usage to deduct, due
expiries. Reads are counts and minimums over indexed columns; nothing here reads a ledger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from drawdown.records import Backlog, CommandRun, Expiries, ServingProcess
from drawdown.store.rows import record_of
from drawdown.store.schema import (
    command_runs,
    customers,
    ledgers,
    server_processes,
    usage_events,
    webhook_deliveries,
)
from drawdown.store.tx import Tx

# --- serving processes ----------------------------------------------------------------------


def register_process(tx: Tx, process: ServingProcess) -> None:
    tx.execute(server_processes.insert().values(**process.__dict__))


def touch_process(tx: Tx, process_id: str, now: datetime) -> bool:
    """Renew a process's heartbeat; False if its row is gone (then it registers again)."""
    query = update(server_processes).where(server_processes.c.id == process_id)
    return int(tx.execute(query.values(seen_at=now)).rowcount) == 1


def remove_process(tx: Tx, process_id: str) -> None:
    tx.execute(delete(server_processes).where(server_processes.c.id == process_id))


def prune_processes(tx: Tx, seen_before: datetime) -> None:
    """Forget processes that stopped renewing long ago (killed, or their machine gone)."""
    tx.execute(delete(server_processes).where(server_processes.c.seen_at < seen_before))


def live_processes(tx: Tx, seen_since: datetime) -> list[ServingProcess]:
    query = (
        select(server_processes)
        .where(server_processes.c.seen_at >= seen_since)
        .order_by(server_processes.c.started_at, server_processes.c.id)
    )
    return [record_of(ServingProcess, row) for row in tx.execute(query).mappings()]


# --- command runs ----------------------------------------------------------------------------


def record_run(tx: Tx, run: CommandRun) -> None:
    """Keep `run` as its command's last run (replacing the one before)."""
    tx.execute(delete(command_runs).where(command_runs.c.command == run.command))
    tx.execute(command_runs.insert().values(**run.__dict__))


def last_run(tx: Tx, command: str) -> CommandRun | None:
    row = tx.execute(select(command_runs).where(command_runs.c.command == command)).mappings()
    found = row.one_or_none()
    return None if found is None else record_of(CommandRun, found)


# --- background work waiting -----------------------------------------------------------------

_live = customers.c.deleted_at.is_(None)


def outbox(tx: Tx, now: datetime) -> Backlog:
    """Webhook deliveries still to be made: pending, due now (first attempt or retry), and
    the oldest pending event's creation."""
    d = webhook_deliveries.c
    query = select(
        func.count(),
        func.count().filter(d.next_attempt_at <= now),
        func.min(d.created_at),
    ).where(d.status == "pending")
    waiting, due, oldest = tx.execute(query).one()
    return Backlog(int(waiting), int(due), oldest)


def usage(tx: Tx, cutoff: datetime) -> Backlog:
    """Accepted usage events of live customers not deducted yet: all of them, those older
    than the grace `cutoff` (due: the deducter should take them within a poll), and the
    oldest event's timestamp."""
    e = usage_events.c
    query = (
        select(func.count(), func.count().filter(e.timestamp < cutoff), func.min(e.timestamp))
        .select_from(usage_events.join(customers, customers.c.id == e.customer_id))
        .where(e.deduction_id.is_(None), _live)
    )
    waiting, due, oldest = tx.execute(query).one()
    return Backlog(int(waiting), int(due), oldest)


def expiries(tx: Tx, now: datetime) -> Expiries:
    """Due expiries of live customers' ledgers not written yet (they are written lazily,
    R-TIME-1: by the customer's next read or write, or `drawdown expire`), from the ledger
    heads' indexed `next_expiry_at`."""
    h = ledgers.c
    query = (
        select(func.count(), func.min(h.next_expiry_at))
        .join(customers, customers.c.id == h.customer_id)
        .where(h.next_expiry_at <= now, _live)
    )
    due, oldest = tx.execute(query).one()
    return Expiries(int(due), oldest)
