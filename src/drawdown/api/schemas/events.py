"""Wire shapes of Orb's events API: ingestion's answer, amendment and deprecation, backfills,
searched events, volume.

Every key of the SDK's models (`orb/types/events/backfill_*_response.py`,
`event_search_response.py`, `events/event_volumes.py`, `event_ingest_response.py`) is always
present, except ingestion's `debug` (only with `debug=true`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, NotRequired, TypedDict

from drawdown.api.pagination import PaginationMetadataJson
from drawdown.api.schemas.instants import at
from drawdown.api.schemas.wire import Doc, Enum, Instant, Null
from drawdown.records import Backfill
from drawdown.services.usage.events import Found, Volume


class BackfillJson(TypedDict):
    id: str
    status: Annotated[str, Enum("pending", "reflected", "pending_revert", "reverted")]
    created_at: Instant
    timeframe_start: Instant
    timeframe_end: Instant
    events_ingested: int
    close_time: Instant | None
    reverted_at: Instant | None
    customer_id: str | None
    replace_existing_events: bool
    deprecation_filter: Null


class EventJson(TypedDict):
    id: str
    customer_id: str | None
    external_customer_id: str | None
    event_name: str
    timestamp: Instant
    properties: dict[str, Any]
    deprecated: Annotated[bool, Doc("The event no longer counts (deprecated, replaced or "
                                    "reverted by a backfill).")]  # fmt: skip


class EventSearchResponseJson(TypedDict):
    data: list[EventJson]


class EventVolumeJson(TypedDict):
    """Live events timestamped in one UTC hour (hours with none are left out)."""

    count: int
    timeframe_start: Instant
    timeframe_end: Instant


class EventVolumesJson(TypedDict):
    """A page of `EventVolume`s (`Pager.respond` writes it)."""

    data: list[EventVolumeJson]
    pagination_metadata: PaginationMetadataJson


class EventUpdateResponseJson(TypedDict):
    amended: str


class EventDeprecateResponseJson(TypedDict):
    deprecated: str


class ValidationFailedJson(TypedDict):
    idempotency_key: str
    validation_errors: list[str]


class _IngestDebugJson(TypedDict):
    duplicate: list[str]
    ingested: list[str]


class EventIngestResponseJson(TypedDict):
    validation_failed: list[ValidationFailedJson]
    debug: NotRequired[_IngestDebugJson]


def backfill_json(backfill: Backfill) -> BackfillJson:
    return {
        "id": backfill.id,
        "status": backfill.status,
        "created_at": at(backfill.created_at),
        "timeframe_start": at(backfill.timeframe_start),
        "timeframe_end": at(backfill.timeframe_end),
        "events_ingested": backfill.events_ingested,
        "close_time": at(backfill.close_time),
        "reverted_at": at(backfill.reverted_at),
        "customer_id": backfill.customer_id,
        "replace_existing_events": backfill.replace_existing_events,
        "deprecation_filter": None,
    }


def event_json(found: Found) -> EventJson:
    event = found.event
    return {
        "id": event.idempotency_key,
        "customer_id": event.customer_id,
        "external_customer_id": found.external_customer_id,
        "event_name": event.event_name,
        "timestamp": at(event.timestamp),
        "properties": event.properties,
        "deprecated": found.deprecated,
    }


def search_json(found: Sequence[Found]) -> EventSearchResponseJson:
    return {"data": [event_json(f) for f in found]}


def volume_json(volume: Volume) -> EventVolumeJson:
    return {
        "count": volume.count,
        "timeframe_start": at(volume.hour),
        "timeframe_end": at(volume.end),
    }


def amended_json(event_id: str) -> EventUpdateResponseJson:
    return {"amended": event_id}


def deprecated_json(event_id: str) -> EventDeprecateResponseJson:
    return {"deprecated": event_id}


def ingested_json(
    duplicate: Sequence[str], ingested: Sequence[str], *, debug: bool
) -> EventIngestResponseJson:
    body: EventIngestResponseJson = {"validation_failed": []}
    if debug:
        body["debug"] = {"duplicate": list(duplicate), "ingested": list(ingested)}
    return body
