"""SQL for corrections of stored usage events: lookups by event id, a customer's events in
a timeframe, bulk status changes, earlier versions of amended events, and where usage drew
credits from (`usage_draws`).

A backfill's close and revert change their events with a few set-based statements per
customer (never a statement per event). Every statement here runs inside the customer's
write job, which holds the customer's lock: only live-ingested rows can appear meanwhile,
and those are never deducted yet (a deduction needs the same lock), so a bulk update that
also catches one of them changes no usage that is in the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, or_, select, text, union_all, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from drawdown.ledger.corrections import Draw
from drawdown.records import StoredEvent
from drawdown.store import ranks
from drawdown.store.prepared import Prepared
from drawdown.store.schema import usage_draws, usage_event_amendments, usage_events
from drawdown.store.sqlfuncs import in_list
from drawdown.store.tx import Tx
from drawdown.store.usage import LIVE, properties_text, read_properties

_e, _d = usage_events.c, usage_draws.c
_ZERO = Decimal(0)
CHUNK = 500  # keys per IN list


FIELDS = (_e.customer_id, _e.idempotency_key, _e.origin, _e.event_name, _e.timestamp,
          _e.properties, _e.status, _e.deduction_id)  # fmt: skip


def stored_event(row: Any) -> StoredEvent:
    return StoredEvent(row.customer_id, row.idempotency_key, row.origin, row.event_name,
                       row.timestamp, read_properties(row.properties), row.status,
                       row.deduction_id)  # fmt: skip


def _rows(tx: Tx, *where: Any) -> list[StoredEvent]:
    query = select(*FIELDS).where(*where).order_by(_e.timestamp, _e.idempotency_key, _e.origin)
    return [stored_event(row) for row in tx.execute(query)]


# --- one event ------------------------------------------------------------------------------


def versions(tx: Tx, customer_id: str, key: str) -> list[StoredEvent]:
    """Every stored version of one of a customer's event ids that is not waiting in an open
    backfill: at most one live, the others no longer counted."""
    return _rows(
        tx, _e.customer_id == customer_id, _e.idempotency_key == key, _e.status != "pending"
    )


def events_of(tx: Tx, customer_id: str) -> list[StoredEvent]:
    """Every stored event version of a customer, oldest first (checks and tests)."""
    return _rows(tx, _e.customer_id == customer_id)


# The partial indexes' own conditions, as literal SQL: a database uses a partial index only
# for a query whose WHERE states its condition (a bound parameter would not prove it).
_IS_LIVE, _NOT_LIVE = text("usage_events.status = 'live'"), text("usage_events.status != 'live'")


def by_key(columns: Sequence[Any], keys: Sequence[str], *where: Any) -> Any:
    """Rows whose event id is one of ``keys``, whoever the customer, except events waiting in
    an open backfill: live ones through the unique live index, the others through theirs."""
    wanted = _e.idempotency_key.in_(list(keys))
    return union_all(
        select(*columns).where(wanted, _IS_LIVE, *where),
        select(*columns).where(wanted, _NOT_LIVE, _e.status != "pending", *where),
    )


def customers_with_key(tx: Tx, key: str, limit: int) -> list[str]:
    """Customers (at most ``limit``) with an event of this id, not counting backfills that
    are still open."""
    found = {row[0] for row in tx.execute(by_key([_e.customer_id], [key]))}
    return sorted(found)[:limit]


def _one(event: StoredEvent) -> Any:
    return and_(_e.customer_id == event.customer_id, _e.idempotency_key == event.idempotency_key,
                _e.origin == event.origin)  # fmt: skip


def set_status(tx: Tx, event: StoredEvent, status: str, now: datetime) -> None:
    tx.execute(update(usage_events).where(_one(event)).values(status=status, changed_at=now))


def amend(
    tx: Tx, event: StoredEvent, fields: dict[str, Any], deduction_id: str | None,
    history_id: str, now: datetime,
) -> None:  # fmt: skip
    """Keep the event's current version in the amendments and store ``fields`` (event_name,
    properties text) as the live one, drawn by ``deduction_id`` if usage is in the ledger."""
    tx.execute(insert(usage_event_amendments).values(
        customer_id=event.customer_id, id=history_id, idempotency_key=event.idempotency_key,
        origin=event.origin, event_name=event.event_name, timestamp=event.timestamp,
        properties=properties_text(event.properties), deduction_id=event.deduction_id,
        amended_at=now,
    ))  # fmt: skip
    deducted = {"deduction_id": deduction_id, "deducted_at": now} if deduction_id else {}
    changed = update(usage_events).where(_one(event))
    tx.execute(changed.values(**fields, amended_at=now, **deducted))


def amendments(tx: Tx, customer_id: str, key: str) -> list[tuple[str, str, datetime]]:
    """(event_name, properties text, amended_at) of an event's earlier versions, oldest first."""
    a = usage_event_amendments.c
    query = (
        select(a.event_name, a.properties, a.amended_at)
        .where(a.customer_id == customer_id, a.idempotency_key == key)
        .order_by(a.amended_at, a.id)
    )
    return [(row[0], row[1], row[2]) for row in tx.execute(query)]


# --- a backfill's events, per customer ------------------------------------------------------


def _window(customer_id: str, start: datetime, end: datetime) -> Any:
    return and_(_e.timestamp >= start, _e.timestamp < end, _e.customer_id == customer_id)


def backfill_events(
    tx: Tx, customer_id: str, backfill_id: str, status: str, start: datetime, end: datetime
) -> list[StoredEvent]:
    """The events a backfill brought for a customer, in one status (they lie in its window)."""
    return _rows(tx, _window(customer_id, start, end), *_of_backfill(backfill_id, status))


def _of_backfill(backfill_id: str, status: str) -> tuple[Any, ...]:
    # Waiting events are never deducted: saying so lets the customer's index find exactly
    # them (customer, deduction null, status), not every event the customer ever sent.
    waiting = (_e.deduction_id.is_(None),) if status == "pending" else ()
    return (_e.origin == backfill_id, _e.status == status, *waiting)


def live_in_window(
    tx: Tx, customer_id: str, start: datetime, end: datetime, backfill_id: str
) -> list[StoredEvent]:
    """The live events a replacing backfill replaces: in its window, not its own."""
    return _rows(tx, _window(customer_id, start, end), _e.status == LIVE, _e.origin != backfill_id)


def replaced_by(
    tx: Tx, customer_id: str, backfill_id: str, start: datetime, end: datetime
) -> list[StoredEvent]:
    return _rows(
        tx, _window(customer_id, start, end), _e.status == "replaced", _e.replaced_by == backfill_id
    )


def held_keys(tx: Tx, customer_id: str, backfill_id: str) -> set[str]:
    """Keys of the backfill's waiting events that a live event of the customer holds (one
    join over the unique live index, however many events the backfill has)."""
    live = usage_events.alias("live")
    query = (
        select(_e.idempotency_key)
        .join(live, and_(live.c.idempotency_key == _e.idempotency_key,
                         live.c.customer_id == _e.customer_id,
                         text("live.status = 'live'")))
        .where(_e.customer_id == customer_id, *_of_backfill(backfill_id, "pending"))
    )  # fmt: skip
    return {row[0] for row in tx.execute(query)}


def replace_window(
    tx: Tx, customer_id: str, start: datetime, end: datetime, backfill_id: str, now: datetime
) -> None:
    """Every live event in the window that is not the backfill's own becomes `replaced`."""
    where = and_(_window(customer_id, start, end), _e.status == LIVE, _e.origin != backfill_id)
    tx.execute(
        update(usage_events)
        .where(where)
        .values(status="replaced", replaced_by=backfill_id, changed_at=now)
    )


def skip(tx: Tx, customer_id: str, backfill_id: str, keys: Sequence[str], now: datetime) -> None:
    """Backfill events whose key a live event kept are `skipped` (never counted)."""
    for start in range(0, len(keys), CHUNK):
        where = and_(
            _e.customer_id == customer_id,
            _e.origin == backfill_id,
            _e.status == "pending",
            _e.idempotency_key.in_(list(keys[start : start + CHUNK])),
        )
        tx.execute(update(usage_events).where(where).values(status="skipped", changed_at=now))


def _live_from(cutoff: datetime, deduction_id: str, now: datetime) -> dict[str, Any]:
    """Values that make rows live, drawn by ``deduction_id`` when due (before ``cutoff``),
    left to the deducter otherwise."""
    due = _e.timestamp < cutoff
    return {
        "status": LIVE,
        "changed_at": now,
        "replaced_by": None,
        "deduction_id": case((due, deduction_id), else_=None),
        "deducted_at": case((due, now), else_=None),
    }


def enter(
    tx: Tx,
    customer_id: str,
    backfill_id: str,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    deduction_id: str,
    now: datetime,
) -> None:
    """The backfill's remaining pending events become live (its close)."""
    where = and_(_window(customer_id, start, end), *_of_backfill(backfill_id, "pending"))
    tx.execute(update(usage_events).where(where).values(**_live_from(cutoff, deduction_id, now)))


def withdraw(
    tx: Tx, customer_id: str, backfill_id: str, start: datetime, end: datetime, now: datetime
) -> None:
    """The backfill's live and pending events become `reverted` (its revert)."""
    where = and_(
        _window(customer_id, start, end), _e.origin == backfill_id, _e.status.in_((LIVE, "pending"))
    )
    tx.execute(update(usage_events).where(where).values(status="reverted", changed_at=now))


def restore(
    tx: Tx,
    customer_id: str,
    backfill_id: str,
    start: datetime,
    end: datetime,
    cutoff: datetime,
    deduction_id: str,
    now: datetime,
) -> None:
    """The events the backfill replaced are live again (its revert)."""
    where = and_(
        _window(customer_id, start, end), _e.status == "replaced", _e.replaced_by == backfill_id
    )
    tx.execute(update(usage_events).where(where).values(**_live_from(cutoff, deduction_id, now)))


def customers_to_close(
    tx: Tx, start: datetime, end: datetime, customer_id: str | None, backfill_id: str, replace: bool
) -> list[str]:
    """Customers with a part in a backfill's close: its events waiting, or (when it
    replaces) live events in its timeframe."""
    wanted = [and_(_e.origin == backfill_id, _e.status == "pending")]
    if replace:
        wanted.append(and_(_e.status == LIVE, _e.origin != backfill_id))
    return _customers(tx, start, end, customer_id, or_(*wanted))


def customers_to_revert(
    tx: Tx, start: datetime, end: datetime, customer_id: str | None, backfill_id: str
) -> list[str]:
    """Customers with a part in a backfill's revert: its events, or events it replaced."""
    wanted = or_(
        and_(_e.origin == backfill_id, _e.status.in_((LIVE, "pending"))),
        and_(_e.status == "replaced", _e.replaced_by == backfill_id),
    )
    return _customers(tx, start, end, customer_id, wanted)


def _customers(
    tx: Tx, start: datetime, end: datetime, customer_id: str | None, wanted: Any
) -> list[str]:
    scope = [_e.customer_id == customer_id] if customer_id is not None else []
    query = (
        select(_e.customer_id)
        .where(_e.timestamp >= start, _e.timestamp < end, *scope, wanted)
        .group_by(_e.customer_id)
        .order_by(_e.customer_id)
    )
    return [row[0] for row in tx.execute(query)]


# --- where usage drew from ------------------------------------------------------------------


def draws(tx: Tx, customer_id: str, currency: str, item_id: str) -> list[Draw]:
    """What usage of (ledger, item) drew from each block and has not had back yet."""
    query = select(_d.block_id, _d.drawn, _d.returned, _d.last_seq).where(
        _d.customer_id == customer_id, _d.currency == currency, _d.item_id == item_id
    )
    return [Draw(row[0], row[1] - row[2], row[3]) for row in tx.execute(query) if row[1] > row[2]]


_DRAWN = Prepared(
    lambda dialect: select(_d.currency, _d.item_id, _d.block_id, _d.drawn).where(
        _d.customer_id == bindparam("customer_id"), in_list(_d.item_id, "item_ids", dialect)
    ),
    per_dialect=True,
    one_customer=True,
)

Drawn = dict[tuple[str, str, str], Decimal]  # (currency, item, block) -> drawn so far


def drawn(tx: Tx, customer_id: str, item_ids: Sequence[str]) -> Drawn:
    """How much usage of these items has drawn from each block so far. Read before a job
    writes anything, so that reading it does not send the job's buffered rows early."""
    read = tx.codec.read_decimal
    rows = tx.rows(_DRAWN, {"customer_id": customer_id, "item_ids": tx.codec.texts(item_ids)})
    return {(currency, item, block): read(amount) for currency, item, block, amount in rows}


def _upsert_draw(dialect: str) -> Any:
    statement = (sqlite_insert if dialect == "sqlite" else postgresql.insert)(usage_draws)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["customer_id", "currency", "item_id", "block_id"],
        set_={"drawn": excluded.drawn, "last_seq": excluded.last_seq,
              "updated_at": excluded.updated_at},
    )  # fmt: skip


_UPSERT_DRAW = Prepared(_upsert_draw, per_dialect=True, bulk_rank=ranks.USAGE_DRAW_UPSERT)


def add_draws(
    tx: Tx,
    customer_id: str,
    currency: str,
    item_id: str,
    taken: Sequence[tuple[str, Decimal, int]],
    now: datetime,
    known: Drawn | None = None,
) -> None:
    """Record (block id, amount, entry seq) drawn by one usage decrement. ``known``: what
    `drawn` read for these items in this job, kept current here (else it is read now). The
    sum is taken here, not in SQL: SQLite has no exact decimal arithmetic."""
    if known is None:
        known = drawn(tx, customer_id, [item_id])
    c = tx.codec
    rows = []
    for block_id, amount, seq in taken:
        key = (currency, item_id, block_id)
        known[key] = total = known.get(key, _ZERO) + amount
        rows.append({"customer_id": customer_id, "currency": currency, "item_id": item_id,
                     "block_id": block_id, "drawn": c.decimal(total), "returned": c.decimal(_ZERO),
                     "last_seq": seq, "updated_at": c.instant(now)})  # fmt: skip
    tx.write_many(_UPSERT_DRAW, rows)


def add_returned(
    tx: Tx,
    customer_id: str,
    currency: str,
    item_id: str,
    returned: Sequence[tuple[str, Decimal]],
    now: datetime,
) -> None:
    """Record (block id, amount) a refund gave back to blocks usage drew from."""
    where = and_(_d.customer_id == customer_id, _d.currency == currency, _d.item_id == item_id)
    for block_id, amount in returned:
        row = tx.execute(select(_d.returned).where(where, _d.block_id == block_id)).one()
        tx.execute(
            update(usage_draws)
            .where(where, _d.block_id == block_id)
            .values(returned=row[0] + amount, updated_at=now)
        )
