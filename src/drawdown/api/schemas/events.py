"""Wire shapes of Orb's events API beyond ingestion: backfills, searched events, volume.

Every key of the SDK's models (`orb/types/events/backfill_*_response.py`,
`event_search_response.py`, `events/event_volumes.py`) is always present.
"""

from __future__ import annotations

from typing import Any

from drawdown.ledger.dates import format_instant
from drawdown.records import Backfill
from drawdown.services.usage.events import Found, Volume


def _instant(value: Any) -> str | None:
    return None if value is None else format_instant(value, fractions=True)


def backfill_json(backfill: Backfill) -> dict[str, Any]:
    return {
        "id": backfill.id,
        "status": backfill.status,
        "created_at": _instant(backfill.created_at),
        "timeframe_start": _instant(backfill.timeframe_start),
        "timeframe_end": _instant(backfill.timeframe_end),
        "events_ingested": backfill.events_ingested,
        "close_time": _instant(backfill.close_time),
        "reverted_at": _instant(backfill.reverted_at),
        "customer_id": backfill.customer_id,
        "replace_existing_events": backfill.replace_existing_events,
        "deprecation_filter": None,
    }


def event_json(found: Found) -> dict[str, Any]:
    event = found.event
    return {
        "id": event.idempotency_key,
        "customer_id": event.customer_id,
        "external_customer_id": found.external_customer_id,
        "event_name": event.event_name,
        "timestamp": _instant(event.timestamp),
        "properties": event.properties,
        "deprecated": found.deprecated,
    }


def volume_json(volume: Volume) -> dict[str, Any]:
    return {
        "count": volume.count,
        "timeframe_start": _instant(volume.hour),
        "timeframe_end": _instant(volume.end),
    }
