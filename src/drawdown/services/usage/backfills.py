"""Backfills (Orb's `events.backfills`): add or replace the events of a past timeframe.

Create a backfill (a timeframe, one customer or all, whether it replaces the events there),
ingest events with its `backfill_id` (they wait, `pending`, and are not usage), then close
or revert it (`backfill_changes.py`: customer by customer, the ledger corrected by the
difference, exactly once).

Rules (Orb's, drawdown's choices in docs/decisions.md "Usage corrections"): the timeframe is
at most 31 days and ends no later than the grace boundary (now − grace: younger events are
still open to live ingestion and amendment); open backfills (pending, pending_revert) may
not overlap for a customer; `replace_existing_events` defaults to true (Orb's reference);
`close_time` defaults to a day after creation, when the backfill closes by itself;
`deprecation_filter` (Orb's computed-property language) is not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drawdown.ledger.dates import format_instant, resolve_instant
from drawdown.ledger.errors import InvalidDate
from drawdown.records import Backfill
from drawdown.services.context import ServiceContext
from drawdown.services.errors import (
    ConstraintViolation,
    InvalidField,
    InvalidRequest,
    ResourceNotFound,
    ServiceError,
)
from drawdown.services.usage.corrections import due_cutoff
from drawdown.services.write_path import CustomerRef, Work, find_customer
from drawdown.store import backfills as store
from drawdown.store.tx import Tx

TIMEFRAME_DAYS_MAX = 31  # Orb's default limit
CLOSE_AFTER = timedelta(days=1)  # Orb: close_time defaults to a day after creation
STATUSES = ("pending", "reflected", "pending_revert", "reverted")


class DeprecationFilterUnsupported(ServiceError):
    kind = "feature_not_available"

    def __init__(self) -> None:
        message = ("drawdown does not support deprecation filters (Orb's computed properties); "
                   "replace the whole timeframe instead")  # fmt: skip
        super().__init__("deprecation_filter", message)


# --- create ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewBackfill:
    timeframe_start: datetime
    timeframe_end: datetime
    close_time: datetime | None
    customer: CustomerRef | None
    replace_existing_events: bool


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def parse(body: Mapping[str, Any]) -> NewBackfill:
    """The request's fields, checked for shape (a 400 naming every bad field)."""
    errors: list[dict[str, str]] = []
    start = _instant(body, "timeframe_start", errors, required=True)
    end = _instant(body, "timeframe_end", errors, required=True)
    close = _instant(body, "close_time", errors, required=False)
    customer = _customer(body, errors)
    replace = body.get("replace_existing_events", True)
    if not isinstance(replace, bool):
        errors.append(_error("replace_existing_events", "must be a boolean"))
    if start and end and not start < end:
        errors.append(_error("timeframe_end", "must be after timeframe_start"))
    elif start and end and end - start > timedelta(days=TIMEFRAME_DAYS_MAX):
        errors.append(_error("timeframe_end", f"spans at most {TIMEFRAME_DAYS_MAX} days"))
    if errors:
        raise InvalidRequest(errors)
    if body.get("deprecation_filter") is not None:
        raise DeprecationFilterUnsupported()
    assert start is not None and end is not None
    return NewBackfill(start, end, close, customer, bool(replace))


def _instant(
    body: Mapping[str, Any], name: str, errors: list[dict[str, str]], *, required: bool
) -> datetime | None:
    value = body.get(name)
    if value is None:
        if required:
            errors.append(_error(name, "is required"))
        return None
    try:
        if not isinstance(value, str):
            raise InvalidDate(name, "must be an ISO 8601 date-time")
        return resolve_instant(value, "UTC", field=name)
    except InvalidDate:
        errors.append(_error(name, "must be an ISO 8601 date-time"))
        return None


def _customer(body: Mapping[str, Any], errors: list[dict[str, str]]) -> CustomerRef | None:
    customer_id, external_id = body.get("customer_id"), body.get("external_customer_id")
    for name, value in (("customer_id", customer_id), ("external_customer_id", external_id)):
        if value is not None and (not isinstance(value, str) or not value):
            errors.append(_error(name, "must be a non-empty string"))
            return None
    if customer_id is not None and external_id is not None:
        errors.append(_error("customer_id", "give customer_id or external_customer_id, not both"))
        return None
    if customer_id is None and external_id is None:
        return None
    return CustomerRef(id=customer_id, external_id=external_id)


def create(new: NewBackfill, backfill_id: str) -> Work[Backfill]:
    """A pending backfill, open for events until it closes (at ``close_time`` at the latest)."""

    def body(ctx: ServiceContext, tx: Tx, now: datetime) -> Backfill:
        customer_id = None if new.customer is None else find_customer(tx, new.customer).id
        _check_times(new, now, due_cutoff(ctx, now))
        clash = store.overlapping(tx, customer_id, new.timeframe_start, new.timeframe_end)
        if clash:
            message = f"the timeframe overlaps backfill {clash[0]}, still open: close or revert it"
            raise ConstraintViolation("timeframe_start", message)
        backfill = Backfill(
            id=backfill_id, customer_id=customer_id, timeframe_start=new.timeframe_start,
            timeframe_end=new.timeframe_end, close_time=new.close_time or now + CLOSE_AFTER,
            replace_existing_events=new.replace_existing_events, status="pending",
            events_ingested=0, created_at=now, closed_at=None, reverted_at=None,
        )  # fmt: skip
        store.insert_backfill(tx, backfill)
        return backfill

    return Work(body)


def _check_times(new: NewBackfill, now: datetime, boundary: datetime) -> None:
    if new.timeframe_end > boundary:
        at = format_instant(boundary, fractions=True)
        raise InvalidField("timeframe_end", f"must be at or before the grace boundary {at} (now − "
                           "DRAWDOWN_USAGE_GRACE_SECONDS): younger usage is still open to "
                           "ingestion and amendment")  # fmt: skip
    if new.close_time is not None and new.close_time <= now:
        raise InvalidField("close_time", "must be in the future")


# --- reads ----------------------------------------------------------------------------------


def get_backfill(ctx: ServiceContext, backfill_id: str) -> Backfill:
    with ctx.db.read() as tx:
        found = store.get(tx, backfill_id)
    if found is None:
        raise ResourceNotFound("Backfill", backfill_id)
    return found


def list_backfills(
    ctx: ServiceContext,
    customer_id: str | None,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Backfill]:
    """Newest first; `customer_id` and `status` filter."""
    with ctx.db.read() as tx:
        return store.page(tx, customer_id, status, after, limit)
