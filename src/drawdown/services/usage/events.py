"""Stored events through Orb's events API: amend, deprecate, search, hourly volume.

An event's id is its `idempotency_key` (Orb's rule). drawdown keeps keys per customer, so
an amendment finds the event through the customer its body names, and a deprecation
through the one customer that has an event with that id (when several have, the caller
names one with `customer_id` / `external_customer_id` in the query, a drawdown extension).

Orb's rules for amendment and deprecation: the customer must exist; an amendment keeps the
event's customer and timestamp; only events inside the grace period can be changed (older
usage is settled: a backfill replaces it). The earlier version is kept (audit-safe), the
live one is changed, and when its usage is already in the ledger the difference is charged
or refunded in the same transaction (`corrections.correct`). Deprecating an event that no
longer counts changes nothing (Orb: the call is idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drawdown.ledger.dates import format_instant
from drawdown.ledger.usage import UsageEvent
from drawdown.records import StoredEvent
from drawdown.services.context import ServiceContext
from drawdown.services.errors import (
    ConstraintViolation,
    InvalidField,
    InvalidRequest,
    ResourceNotFound,
)
from drawdown.services.usage import ingest
from drawdown.services.usage.corrections import correct
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    find_customer,
)
from drawdown.store import corrections as store
from drawdown.store import usage as usage_store
from drawdown.store import usage_reads

EVENT_IDS_MAX = 500  # ids per search
SEARCH_RESULTS_MAX = 1000
SEARCH_DEFAULT = timedelta(days=7)  # Orb: the timeframe starts a week ago by default
VOLUME_DAYS_MAX = 31


def within_grace(ctx: ServiceContext, at: datetime, now: datetime) -> bool:
    """Whether an event timestamped ``at`` may still be changed (no grace: always)."""
    grace = ctx.settings.usage_grace_seconds
    return grace == 0 or at >= now - timedelta(seconds=grace)


def _grace_message(ctx: ServiceContext) -> str:
    return (
        f"the event is older than the grace period ({ctx.settings.usage_grace_seconds} s, "
        "DRAWDOWN_USAGE_GRACE_SECONDS): its usage is settled; replace it with a backfill"
    )


# --- amend ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amended:
    """An amendment's body, checked for shape."""

    customer: CustomerRef
    customer_field: str  # the body field that named the customer
    event_name: str
    timestamp: datetime
    properties: dict[str, Any]
    properties_text: str


def parse_amendment(body: Mapping[str, Any]) -> Amended:
    """The body of `PUT /events/{event_id}` (a 400 naming every bad field)."""
    errors: list[dict[str, str]] = []
    customer, field = _customer_of(body, errors)
    name = _field(errors, "event_name", lambda e: ingest.event_name_of(body.get("event_name"), e))
    at = _field(errors, "timestamp", lambda e: ingest.timestamp_of(body.get("timestamp"), e))
    properties = _field(
        errors, "properties", lambda e: ingest.properties_of(body.get("properties"), e)
    )
    if errors:
        raise InvalidRequest(errors)
    assert customer is not None and at is not None
    return Amended(customer, field, name, at, properties, usage_store.properties_text(properties))


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _field(errors: list[dict[str, str]], name: str, check: Any) -> Any:
    """``check(messages)``'s value; the messages it appends are errors of field ``name``."""
    found: list[str] = []
    value = check(found)
    errors.extend(_error(name, message) for message in found)
    return value


def _customer_of(
    body: Mapping[str, Any], errors: list[dict[str, str]]
) -> tuple[CustomerRef | None, str]:
    customer_id, external_id = body.get("customer_id"), body.get("external_customer_id")
    if (customer_id is None) == (external_id is None):
        message = "exactly one of customer_id and external_customer_id must be set"
        errors.append(_error("customer_id", message))
        return None, "customer_id"
    field = "customer_id" if customer_id is not None else "external_customer_id"
    value = customer_id if customer_id is not None else external_id
    if not isinstance(value, str) or not value:
        errors.append(_error(field, "must be a non-empty string"))
        return None, field
    return CustomerRef(id=customer_id, external_id=external_id), field


def amend(event_id: str, amended: Amended) -> Work[str]:
    """Replace the live version of the customer's event ``event_id`` by ``amended``."""

    def body(write: CustomerWrite) -> str:
        event = _live_event(write, event_id, amended.customer_field)
        if amended.timestamp != event.timestamp:
            at = format_instant(event.timestamp, fractions=True)
            message = f"must equal the event's timestamp {at}: an amendment keeps its time"
            raise InvalidField("timestamp", message)
        if not within_grace(write.ctx, event.timestamp, write.now):
            raise InvalidField("timestamp", _grace_message(write.ctx))
        same = (amended.event_name, amended.properties_text) == (
            event.event_name, usage_store.properties_text(event.properties))  # fmt: skip
        if same:
            return event_id  # the same amendment again (a retried PUT) changes nothing
        deduction_id = None
        if event.deduction_id is not None:  # its usage is in the ledger: correct it there
            deduction_id = write.ctx.new_id()
            new = UsageEvent(event_id, amended.event_name, event.timestamp, amended.properties)
            correct(write, [new], [event.usage], "amend", deduction_id)
        fields = {"event_name": amended.event_name, "properties": amended.properties_text}
        store.amend(write.tx, event, fields, deduction_id, write.ctx.new_id(), write.now)
        return event_id

    return customer_work(amended.customer, body)


def _live_event(write: CustomerWrite, event_id: str, customer_field: str) -> StoredEvent:
    versions = store.versions(write.tx, write.customer_id, event_id)
    live = [v for v in versions if v.status == usage_store.LIVE]
    if live:
        return live[0]
    if versions:
        raise ConstraintViolation(
            "event_id",
            f"event {event_id} is {versions[-1].status}: it no longer counts and cannot be amended",
        )
    if store.customers_with_key(write.tx, event_id, 1):
        raise InvalidField(
            customer_field,
            "does not match the event's customer: an amendment "
            "cannot move an event to another customer",
        )
    raise ResourceNotFound("Event", event_id)


# --- deprecate ------------------------------------------------------------------------------


def owner_of(ctx: ServiceContext, event_id: str, customer: CustomerRef | None) -> str:
    """The customer whose event ``event_id`` is (named by ``customer`` when given)."""
    with ctx.db.read() as tx:
        if customer is not None:
            return find_customer(tx, customer).id
        owners = store.customers_with_key(tx, event_id, 2)
    if not owners:
        raise ResourceNotFound("Event", event_id)
    if len(owners) > 1:
        message = ("several customers have an event with this id; name one with the "
                   "customer_id or external_customer_id query parameter")  # fmt: skip
        raise InvalidField("event_id", message)
    return owners[0]


def deprecate(customer_id: str, event_id: str) -> Work[str]:
    """Stop counting the customer's event ``event_id`` (refunding its usage if deducted)."""

    def body(write: CustomerWrite) -> str:
        versions = store.versions(write.tx, write.customer_id, event_id)
        live = [v for v in versions if v.status == usage_store.LIVE]
        if not live:
            if versions:
                return event_id  # already not counted: deprecating again changes nothing
            raise ResourceNotFound("Event", event_id)
        event = live[0]
        if not within_grace(write.ctx, event.timestamp, write.now):
            raise InvalidField("event_id", _grace_message(write.ctx))
        if event.deduction_id is not None:
            correct(write, [], [event.usage], "deprecate", write.ctx.new_id())
        store.set_status(write.tx, event, "deprecated", write.now)
        return event_id

    return customer_work(CustomerRef(id=customer_id), body)


# --- search and volume ----------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    event: StoredEvent
    external_customer_id: str | None

    @property
    def deprecated(self) -> bool:
        return self.event.status != usage_store.LIVE

    @property
    def properties_text(self) -> str:
        """The properties as exact JSON (the console shows and edits them as text)."""
        return usage_store.properties_text(self.event.properties)


def versions_of(
    ctx: ServiceContext, event_id: str, customer: CustomerRef | None
) -> tuple[str, list[Found]]:
    """The customer whose event ``event_id`` is, and every version of it (the console)."""
    owner = owner_of(ctx, event_id, customer)
    with ctx.db.read() as tx:
        external = find_customer(tx, CustomerRef(id=owner)).external_customer_id
        rows = store.versions(tx, owner, event_id)
    if not rows:
        raise ResourceNotFound("Event", event_id)
    return owner, [Found(row, external) for row in rows]


@dataclass(frozen=True)
class SearchQuery:
    event_ids: list[str]
    start: datetime | None
    end: datetime | None


def parse_search(body: Mapping[str, Any]) -> SearchQuery:
    """The body of `POST /events/search` (a 400 naming every bad field)."""
    errors: list[dict[str, str]] = []
    ids = body.get("event_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= EVENT_IDS_MAX:
        errors.append(_error("event_ids", f"is required: a list of 1-{EVENT_IDS_MAX} event ids"))
        ids = []
    elif not all(isinstance(i, str) and 1 <= len(i) <= ingest.KEY_LENGTH_MAX for i in ids):
        limit = ingest.KEY_LENGTH_MAX
        errors.append(_error("event_ids", f"event ids are strings of 1-{limit} characters"))
    bounds = [
        _optional_instant(body.get(name), name, errors)
        for name in ("timeframe_start", "timeframe_end")
    ]
    if errors:
        raise InvalidRequest(errors)
    return SearchQuery(list(dict.fromkeys(ids)), bounds[0], bounds[1])


def _optional_instant(value: Any, name: str, errors: list[dict[str, str]]) -> datetime | None:
    if value is None:
        return None
    found: list[str] = []
    at = ingest.timestamp_of(value, found)
    errors.extend(_error(name, m.replace("timestamp", name)) for m in found)
    return at


def search(
    ctx: ServiceContext, event_ids: Sequence[str], start: datetime | None, end: datetime | None
) -> list[Found]:
    """Stored events with these ids in [start, end) (default: the past week), deprecated
    ones flagged; events waiting in an open backfill are not events yet."""
    now = ctx.now()
    end = now if end is None else end
    start = end - SEARCH_DEFAULT if start is None else start
    if not start < end:
        raise InvalidField("timeframe_start", "must be before timeframe_end")
    with ctx.db.read() as tx:
        rows = usage_reads.search(tx, event_ids, start, end, SEARCH_RESULTS_MAX)
    return [Found(event, external) for event, external in rows]


@dataclass(frozen=True)
class Volume:
    hour: datetime
    count: int

    @property
    def end(self) -> datetime:
        return self.hour + timedelta(hours=1)


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def volume(
    ctx: ServiceContext, start: datetime, end: datetime | None, after: datetime | None, limit: int
) -> list[Volume]:
    """Live events per UTC hour, for the hours that [start, end) touches (default end: now),
    hours with events only, oldest first, from the hour after ``after`` (a page cursor)."""
    first = hour_floor(start)
    end = ctx.now() if end is None else end
    last = hour_floor(end) + (timedelta(hours=1) if end != hour_floor(end) else timedelta(0))
    if not first < last:
        raise InvalidField("timeframe_end", "must be after timeframe_start")
    if last - first > timedelta(days=VOLUME_DAYS_MAX):
        raise InvalidField("timeframe_end", f"the timeframe spans at most {VOLUME_DAYS_MAX} days")
    if after is not None:
        first = max(first, hour_floor(after) + timedelta(hours=1))
    with ctx.db.read() as tx:
        counts = usage_reads.hourly_counts(tx, first, last, limit) if first < last else []
    return [Volume(hour, count) for hour, count in counts]
