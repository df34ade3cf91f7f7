"""Event ingestion (Orb's `POST /ingest`): check a batch, then store it per customer.

A batch is checked whole before anything is written: if any event fails, the request is
refused with every failure (`validation_failed`) and nothing is stored, so the caller fixes
and resends the same batch; idempotency keys make the resend safe. Accepted events are
written as one job in bulk (one statement finds the keys already kept, one multi-row insert
stores the rest, whatever the customers): one transaction, one fsync, all or nothing.

Rules (Orb's, with drawdown's choices: R-USE-1 and R-USE-2 in docs/rules.md §6.3):

* exactly one of `customer_id` / `external_customer_id`, naming a live customer;
* `timestamp` ISO 8601 (naive = UTC), at most 5 minutes ahead of now and, when the grace
  period is not 0, no older than it: later than that, the usage would be already deducted;
* `properties` an object of strings, numbers and booleans (no nesting, no null);
* an idempotency key already stored for the customer is a duplicate: ignored, not an
  error, for as long as the event is kept (for good); the same key twice in one batch is
  a duplicate when both bodies agree and a failure when they differ.

With `backfill_id` (Orb's backfills, `services/usage/backfills.py`) the events belong to
that backfill and are not usage until it closes: its timeframe replaces the grace period
(older events are the point of a backfill), a backfill of one customer takes only that
customer's events, a key is a duplicate only within the backfill (a backfill may bring a
new version of an event it replaces), and the backfill must still accept events, which the
write checks again holding the backfill's row (a closing backfill never gains an event).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from drawdown.ledger.dates import format_instant, resolve_instant
from drawdown.ledger.errors import InvalidDate
from drawdown.records import Backfill
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ConstraintViolation, InvalidField, ResourceNotFound
from drawdown.services.write_path import Work, work
from drawdown.store import backfills as backfill_store
from drawdown.store import usage as store
from drawdown.store.tx import Tx

FUTURE_SECONDS_MAX = 300  # Orb: an event more than 5 minutes ahead is refused
KEY_LENGTH_MAX = 255
NAME_LENGTH_MAX = 255
PROPERTIES_MAX = 100
PROPERTY_TEXT_MAX = 1000


@dataclass(frozen=True)
class Failure:
    """One refused event, as Orb reports it: its key and what is wrong with it."""

    idempotency_key: str
    validation_errors: tuple[str, ...]


@dataclass
class Checked:
    """A checked batch: its failures, or the rows to store by customer."""

    failed: list[Failure] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)  # same key, same body, same batch
    accepted_at: datetime | None = None
    backfill: Backfill | None = None  # the backfill the events belong to


@dataclass(frozen=True)
class Stored:
    """What one customer's write stored (``ingested``) and found already kept."""

    ingested: tuple[str, ...]
    duplicate: tuple[str, ...]


@dataclass(frozen=True)
class Ingested:
    ingested: tuple[str, ...]
    duplicate: tuple[str, ...]


def events_of(body: Mapping[str, Any], events_max: int) -> list[Any]:
    """The request's `events` list (a request-level error if it is not one, or too long)."""
    events = body.get("events")
    if not isinstance(events, list):
        raise InvalidField("events", "is required and must be a list of events")
    if len(events) > events_max:
        raise InvalidField("events", f"must hold at most {events_max} events per request")
    return events


TimeRule = Callable[[datetime], str | None]  # what is wrong with an event's timestamp


def live_rule(ctx: ServiceContext, now: datetime) -> TimeRule:
    """Live events: at most 5 minutes ahead and, with a grace period, no older than it."""
    grace = ctx.settings.usage_grace_seconds
    earliest = now - timedelta(seconds=grace) if grace > 0 else None
    latest = now + timedelta(seconds=FUTURE_SECONDS_MAX)

    def rule(at: datetime) -> str | None:
        if at > latest:
            return f"timestamp is more than {FUTURE_SECONDS_MAX} seconds in the future"
        if earliest is not None and at < earliest:
            return "timestamp is older than the grace period (DRAWDOWN_USAGE_GRACE_SECONDS)"
        return None

    return rule


def _backfill_rule(backfill: Backfill) -> TimeRule:
    start, end = backfill.timeframe_start, backfill.timeframe_end

    def rule(at: datetime) -> str | None:
        if start <= at < end:
            return None
        first, last = format_instant(start, fractions=True), format_instant(end, fractions=True)
        return f"timestamp is outside the backfill's timeframe [{first}, {last})"

    return rule


def check(ctx: ServiceContext, events: Sequence[Any], backfill_id: str | None = None) -> Checked:
    """Check every event and resolve its customer (a read); nothing is written."""
    now = ctx.now()
    backfill = _open_backfill(ctx, backfill_id, now) if backfill_id is not None else None
    rule = live_rule(ctx, now) if backfill is None else _backfill_rule(backfill)
    parsed = [_parse(event, rule) for event in events]
    with ctx.db.read() as tx:
        ids = store.live_customer_ids(tx, [p.customer_id for p in parsed if p.customer_id])
        aliases = store.customer_ids_by_external_id(
            tx, [p.external_id for p in parsed if p.external_id]
        )
    checked = Checked(accepted_at=now, backfill=backfill)
    seen: dict[str, _Parsed] = {}
    for event in parsed:
        customer_id = _customer(event, ids, aliases)
        if backfill is not None and customer_id is not None:
            _in_scope(event, customer_id, backfill)
        _place(checked, seen, event, customer_id, now)
    return checked


def _open_backfill(ctx: ServiceContext, backfill_id: str, now: datetime) -> Backfill:
    with ctx.db.read() as tx:
        backfill = backfill_store.get(tx, backfill_id)
    if backfill is None:
        raise ResourceNotFound("Backfill", backfill_id)
    _accepting(backfill, now)
    return backfill


def _accepting(backfill: Backfill, now: datetime) -> None:
    if not backfill.accepts_events(now):
        closes = format_instant(backfill.close_time, fractions=True)
        raise ConstraintViolation(
            "backfill_id",
            f"backfill {backfill.id} no longer accepts events ({backfill.status}, close time "
            f"{closes})",
        )


def _in_scope(event: _Parsed, customer_id: str, backfill: Backfill) -> None:
    if backfill.customer_id is not None and customer_id != backfill.customer_id:
        event.errors.append(f"the backfill is for customer {backfill.customer_id} only")


def _customer(event: _Parsed, ids: set[str], aliases: dict[str, str]) -> str | None:
    if event.customer_id is not None:
        if event.customer_id in ids:
            return event.customer_id
        event.errors.append(f"no customer with customer_id {event.customer_id!r}")
    elif event.external_id is not None:
        found = aliases.get(event.external_id)
        if found is not None:
            return found
        event.errors.append(f"no customer with external_customer_id {event.external_id!r}")
    return None


def _place(
    checked: Checked, seen: dict[str, _Parsed], event: _Parsed, customer_id: str | None,
    now: datetime,
) -> None:  # fmt: skip
    twin = seen.get(event.key)
    if twin is not None and not event.errors:
        if twin.fingerprint != event.fingerprint:
            event.errors.append("idempotency_key is repeated in this batch with another event")
        else:
            checked.repeated.append(event.key)
            return
    seen.setdefault(event.key, event)
    if event.errors or customer_id is None:
        checked.failed.append(Failure(event.key, tuple(event.errors)))
        return
    backfill = checked.backfill
    checked.rows.setdefault(customer_id, []).append({
        "customer_id": customer_id, "idempotency_key": event.key,
        "event_name": event.event_name, "timestamp": event.timestamp,
        "properties": event.properties_text, "accepted_at": now,
        "origin": "" if backfill is None else backfill.id,
        "status": store.LIVE if backfill is None else "pending",
    })  # fmt: skip


def write(checked: Checked) -> Work[list[Stored]]:
    """The writes of a batch that passed ``check``, per customer, as one job written in bulk
    (issue 20): one statement finds the keys already kept, whatever the customers, and one
    multi-row insert stores the rest (a key stored meanwhile by another process is skipped
    by the database: `ON CONFLICT DO NOTHING`)."""
    assert not checked.failed
    backfill_id = None if checked.backfill is None else checked.backfill.id
    batch = sorted(checked.rows.items())

    def body(tx: Tx, now: datetime) -> list[Stored]:
        if backfill_id is not None:
            _lock_open(tx, backfill_id, now)
        pairs = [(c, row["idempotency_key"]) for c, rows in batch for row in rows]
        known = store.existing_pairs(tx, pairs, origin=backfill_id)
        stored, new = [], []
        for customer_id, rows in batch:
            fresh = [row for row in rows if (customer_id, row["idempotency_key"]) not in known]
            kept = sorted(key for c, key in known if c == customer_id)
            stored.append(Stored(tuple(r["idempotency_key"] for r in fresh), tuple(kept)))
            new.extend(fresh)
        store.insert_events(tx, new)
        if backfill_id is not None:
            backfill_store.count_ingested(tx, backfill_id, len(new))
        return stored

    return work(body)


def _lock_open(tx: Tx, backfill_id: str, now: datetime) -> None:
    """The backfill still accepts events, and its row stays locked until this commits."""
    backfill = backfill_store.get(tx, backfill_id, lock=True)
    assert backfill is not None, "backfills are never deleted"
    _accepting(backfill, now)


def outcome(checked: Checked, stored: Sequence[Stored]) -> Ingested:
    ingested = tuple(key for s in stored for key in s.ingested)
    duplicate = tuple(key for s in stored for key in s.duplicate) + tuple(checked.repeated)
    return Ingested(ingested, duplicate)


def ingest(
    ctx: ServiceContext, events: Sequence[Any], backfill_id: str | None = None
) -> Ingested | list[Failure]:
    """Check and store a batch from a thread (CLI, tests, benchmarks); the API awaits the
    same steps on the event loop."""
    checked = check(ctx, events, backfill_id)
    if checked.failed:
        return checked.failed
    result = outcome(checked, write(checked).run(ctx))
    if checked.backfill is None:  # a backfill's events wait for its close
        ctx.observer.emit("usage_accepted", count=len(result.ingested))
    return result


# --- one event --------------------------------------------------------------------------------


@dataclass
class _Parsed:
    key: str
    errors: list[str]
    customer_id: str | None = None
    external_id: str | None = None
    event_name: str = ""
    timestamp: datetime | None = None
    properties_text: str = "{}"
    fingerprint: tuple[Any, ...] = ()


def _parse(raw: Any, rule: TimeRule) -> _Parsed:
    if not isinstance(raw, dict):
        return _Parsed("", ["event must be an object"])
    key = raw.get("idempotency_key")
    errors: list[str] = []
    if not isinstance(key, str) or not 1 <= len(key) <= KEY_LENGTH_MAX:
        errors.append(f"idempotency_key must be a string of 1-{KEY_LENGTH_MAX} characters")
        key = key if isinstance(key, str) else ""
    event = _Parsed(key, errors)
    _customer_fields(raw, event)
    event.event_name = event_name_of(raw.get("event_name"), errors)
    event.timestamp = timestamp_of(raw.get("timestamp"), errors)
    if event.timestamp is not None and (wrong := rule(event.timestamp)) is not None:
        errors.append(wrong)
    properties = properties_of(raw.get("properties"), errors)
    if not errors:
        event.properties_text = store.properties_text(properties)
        event.fingerprint = (event.customer_id, event.external_id, event.event_name,
                             event.timestamp, event.properties_text)  # fmt: skip
    return event


def _customer_fields(raw: Mapping[str, Any], event: _Parsed) -> None:
    customer_id, external_id = raw.get("customer_id"), raw.get("external_customer_id")
    if (customer_id is None) == (external_id is None):
        event.errors.append("exactly one of customer_id and external_customer_id must be set")
    elif not isinstance(customer_id or external_id, str):
        event.errors.append("customer_id and external_customer_id must be strings")
    else:
        event.customer_id, event.external_id = customer_id, external_id


def event_name_of(value: Any, errors: list[str]) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= NAME_LENGTH_MAX:
        errors.append(f"event_name must be a string of 1-{NAME_LENGTH_MAX} characters")
        return ""
    return value


def timestamp_of(value: Any, errors: list[str]) -> datetime | None:
    if not isinstance(value, str):
        errors.append("timestamp must be an ISO 8601 string")
        return None
    try:
        return resolve_instant(value, "UTC", field="timestamp")
    except InvalidDate:
        errors.append("timestamp must be an ISO 8601 date-time")
        return None


def check_properties(value: Any, errors: list[str]) -> dict[str, Any]:
    """The rules for an event's properties, for events that are not ingested (previews)."""
    return properties_of(value, errors)


def properties_of(value: Any, errors: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.append("properties must be an object")
        return {}
    if len(value) > PROPERTIES_MAX:
        errors.append(f"properties must hold at most {PROPERTIES_MAX} keys")
    for name, item in value.items():
        if isinstance(item, str):
            if len(item) > PROPERTY_TEXT_MAX:
                errors.append(f"properties.{name} must be at most {PROPERTY_TEXT_MAX} characters")
        elif not isinstance(item, bool | int | Decimal):
            errors.append(f"properties.{name} must be a string, number or boolean")
        elif isinstance(item, Decimal) and not _storable_number(item):
            errors.append(f"properties.{name} must be a number of at most {PROPERTY_TEXT_MAX} "
                          "digits")  # fmt: skip
    return value


def _storable_number(number: Decimal) -> bool:
    # A number is stored as the digits it stands for: `1e999999` (9 bytes sent) would be a
    # million digits kept, so its plain form is bounded like a text property.
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        return False  # NaN or infinity (the JSON parser refuses them already)
    return len(digits) + abs(exponent) <= PROPERTY_TEXT_MAX
