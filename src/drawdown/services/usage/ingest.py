"""Event ingestion (Orb's `POST /ingest`): check a batch, then store it per customer.

A batch is checked whole before anything is written: if any event fails, the request is
refused with every failure (`validation_failed`) and nothing is stored, so the caller fixes
and resends the same batch; idempotency keys make the resend safe. Accepted events are
written as one write job per customer (a job touches one customer's rows, like every
write), run together as one committer job: one transaction, one fsync, all or nothing.

Rules (Orb's, with drawdown's choices in docs/decisions.md "Usage"):

* exactly one of `customer_id` / `external_customer_id`, naming a live customer;
* `timestamp` ISO 8601 (naive = UTC), at most 5 minutes ahead of now and, when the grace
  period is not 0, no older than it: later than that, the usage would be already deducted;
* `properties` an object of strings, numbers and booleans (no nesting, no null);
* an idempotency key already stored for the customer is a duplicate: ignored, not an
  error, for as long as the event is kept (for good); the same key twice in one batch is
  a duplicate when both bodies agree and a failure when they differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from drawdown.ledger.dates import resolve_instant
from drawdown.ledger.errors import InvalidDate
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField
from drawdown.services.write_path import Work, together, work
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


def check(ctx: ServiceContext, events: Sequence[Any]) -> Checked:
    """Check every event and resolve its customer (a read); nothing is written."""
    now = ctx.now()
    grace = ctx.settings.usage_grace_seconds
    earliest = now - timedelta(seconds=grace) if grace > 0 else None
    latest = now + timedelta(seconds=FUTURE_SECONDS_MAX)
    parsed = [_parse(event, earliest, latest) for event in events]
    with ctx.db.read() as tx:
        ids = store.live_customer_ids(tx, [p.customer_id for p in parsed if p.customer_id])
        aliases = store.customer_ids_by_external_id(
            tx, [p.external_id for p in parsed if p.external_id]
        )
    checked = Checked(accepted_at=now)
    seen: dict[str, _Parsed] = {}
    for event in parsed:
        _place(checked, seen, event, _customer(event, ids, aliases), now)
    return checked


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
    checked.rows.setdefault(customer_id, []).append({
        "customer_id": customer_id, "idempotency_key": event.key,
        "event_name": event.event_name, "timestamp": event.timestamp,
        "properties": event.properties_text, "accepted_at": now,
    })  # fmt: skip


def write(checked: Checked) -> Work[list[Stored]]:
    """The writes of a batch that passed ``check``: one job per customer, committed together."""
    assert not checked.failed
    return together([work(_store_for(rows)) for _, rows in sorted(checked.rows.items())])


def _store_for(rows: list[dict[str, Any]]) -> Any:
    def body(tx: Tx, _now: datetime) -> Stored:
        customer_id = rows[0]["customer_id"]
        known = store.existing_keys(tx, customer_id, [r["idempotency_key"] for r in rows])
        new = [row for row in rows if row["idempotency_key"] not in known]
        store.insert_events(tx, new)
        return Stored(tuple(r["idempotency_key"] for r in new), tuple(sorted(known)))

    return body


def outcome(checked: Checked, stored: Sequence[Stored]) -> Ingested:
    ingested = tuple(key for s in stored for key in s.ingested)
    duplicate = tuple(key for s in stored for key in s.duplicate) + tuple(checked.repeated)
    return Ingested(ingested, duplicate)


def ingest(ctx: ServiceContext, events: Sequence[Any]) -> Ingested | list[Failure]:
    """Check and store a batch from a thread (CLI, tests, benchmarks); the API awaits the
    same steps on the event loop."""
    checked = check(ctx, events)
    if checked.failed:
        return checked.failed
    result = outcome(checked, write(checked).run(ctx))
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


def _parse(raw: Any, earliest: datetime | None, latest: datetime) -> _Parsed:
    if not isinstance(raw, dict):
        return _Parsed("", ["event must be an object"])
    key = raw.get("idempotency_key")
    errors: list[str] = []
    if not isinstance(key, str) or not 1 <= len(key) <= KEY_LENGTH_MAX:
        errors.append(f"idempotency_key must be a string of 1-{KEY_LENGTH_MAX} characters")
        key = key if isinstance(key, str) else ""
    event = _Parsed(key, errors)
    _customer_fields(raw, event)
    event.event_name = _event_name(raw.get("event_name"), errors)
    event.timestamp = _timestamp(raw.get("timestamp"), earliest, latest, errors)
    properties = _properties(raw.get("properties"), errors)
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


def _event_name(value: Any, errors: list[str]) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= NAME_LENGTH_MAX:
        errors.append(f"event_name must be a string of 1-{NAME_LENGTH_MAX} characters")
        return ""
    return value


def _timestamp(
    value: Any, earliest: datetime | None, latest: datetime, errors: list[str]
) -> datetime | None:
    if not isinstance(value, str):
        errors.append("timestamp must be an ISO 8601 string")
        return None
    try:
        at = resolve_instant(value, "UTC", field="timestamp")
    except InvalidDate:
        errors.append("timestamp must be an ISO 8601 date-time")
        return None
    if at > latest:
        errors.append(f"timestamp is more than {FUTURE_SECONDS_MAX} seconds in the future")
    elif earliest is not None and at < earliest:
        errors.append("timestamp is older than the grace period (DRAWDOWN_USAGE_GRACE_SECONDS)")
    return at


def check_properties(value: Any, errors: list[str]) -> dict[str, Any]:
    """The rules for an event's properties, for events that are not ingested (previews)."""
    return _properties(value, errors)


def _properties(value: Any, errors: list[str]) -> dict[str, Any]:
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
    return value
