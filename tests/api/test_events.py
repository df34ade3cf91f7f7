"""Orb's events API beyond ingestion through the official SDK (`events.update`, `deprecate`,
`search`, `volume.list`, `backfills.*`), strict response validation, on SQLite and
PostgreSQL (issue 19). A server with no grace period deducts usage at once, so amending
and deprecating act on deducted usage: the ledger moves by the difference, once. Every
route refuses bad input with a 400 (or 404) naming the field, and writes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orb
import pytest
from rules_helpers import customer, increment, raw_rejected, rejected
from sqlalchemy import text

from conftest import Server, run_cli, start_server, stop_server, unique

FAST = {"DRAWDOWN_USAGE_GRACE_SECONDS": "0", "DRAWDOWN_USAGE_DEDUCT_POLL_SECONDS": "0.1"}
WAIT_SECONDS = 15.0
VALIDATION, CONSTRAINT = "400-request-validation-errors", "400-constraint-violation"
NOT_FOUND = "404-resource-not-found"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def metered(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Server]:
    url = database_factory(request.param)
    run_cli(url, "items", "add", "api", "--name", "API calls")
    run_cli(
        url,
        "prices",
        "add",
        "--item",
        "api",
        "--event-name",
        "call",
        "--metric",
        "sum:n",
        "--credits-per-unit",
        "0.5",
    )
    srv = start_server(url, env=FAST)
    srv.priced_from = datetime.now(UTC)  # type: ignore[attr-defined]
    yield srv
    stop_server(srv)


@pytest.fixture
def sdk(metered: Server) -> Iterator[orb.Orb]:
    with metered.client(_strict_response_validation=True) as client:
        yield client


def _at(minutes_ago: int) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)


def _priced(server: Server, ms: int = 0) -> datetime:
    """An instant when the price was in force (it applies from its creation on, never to
    earlier usage), ``ms`` after it, in the past by the time a test runs."""
    start: datetime = server.priced_from  # type: ignore[attr-defined]
    return start + timedelta(milliseconds=ms)


def _event(owner: Any, at: datetime, n: Any, key: str | None = None) -> dict[str, Any]:
    return {
        "idempotency_key": key or unique("ev"),
        "event_name": "call",
        "timestamp": at.isoformat(),
        "properties": {"n": n},
        "customer_id": owner.id,
    }


def _settled(server: Server) -> None:
    """Wait until the deducter has drawn every live event's usage."""
    query = text("SELECT count(*) FROM usage_events WHERE status = 'live' AND deduction_id IS NULL")
    deadline = time.monotonic() + WAIT_SECONDS
    with server.engine.connect() as conn:
        while conn.execute(query).scalar_one() and time.monotonic() < deadline:
            conn.rollback()
            time.sleep(0.05)
        assert conn.execute(query).scalar_one() == 0, "usage left undeducted"


def _entries(client: orb.Orb, customer_id: str) -> list[Any]:
    return list(reversed(client.customers.credits.ledger.list(customer_id, limit=100).data))


def _balance(client: orb.Orb, customer_id: str) -> Decimal:
    return Decimal(str(client.customers.credits.list(customer_id).data[0].balance))


# --- amend and deprecate ----------------------------------------------------------------------


def test_amending_a_deducted_event_moves_the_ledger_by_the_difference(
    metered: Server, sdk: orb.Orb
) -> None:
    c = customer(sdk)
    block = increment(sdk, c.id, 100).credit_block.id
    at = _priced(metered, 1)
    event = _event(c, at, 10)
    sdk.events.ingest(events=[event])
    _settled(metered)
    assert _balance(sdk, c.id) == 95
    key = event["idempotency_key"]
    amended = sdk.events.update(
        key, event_name="call", properties={"n": 4}, timestamp=at, customer_id=c.id
    )
    assert amended.amended == key
    refund = _entries(sdk, c.id)[-1]
    assert (refund.entry_type, refund.amount, refund.credit_block.id) == ("amendment", 3, block)
    assert refund.metadata["usage_correction"] == "amend"
    assert refund.description == "Usage correction: API calls"
    sdk.events.update(
        key,
        event_name="call",
        properties={"n": 20},
        timestamp=at.isoformat(),
        external_customer_id=c.external_customer_id,
    )
    charge = _entries(sdk, c.id)[-1]
    assert (charge.entry_type, charge.amount) == ("decrement", 8)
    assert charge.metadata["usage_correction"] == "amend"
    time.sleep(0.3)  # a second deduction of the amended event, if there were one, lands now
    assert _balance(sdk, c.id) == 90
    assert len(_entries(sdk, c.id)) == 4


def test_deprecating_refunds_once_and_search_flags_it(metered: Server, sdk: orb.Orb) -> None:
    c = customer(sdk)
    increment(sdk, c.id, 100)
    at = _priced(metered, 1)
    kept, dropped = _event(c, at, 1.5), _event(c, at + timedelta(milliseconds=1), 8)
    sdk.events.ingest(events=[kept, dropped])
    _settled(metered)
    assert _balance(sdk, c.id) == Decimal("95.25")
    key = dropped["idempotency_key"]
    assert sdk.events.deprecate(key).deprecated == key
    assert sdk.events.deprecate(key).deprecated == key  # idempotent: nothing more refunded
    assert _balance(sdk, c.id) == Decimal("99.25")
    found = sdk.events.search(
        event_ids=[kept["idempotency_key"], key, "nothing"],
        timeframe_start=at - timedelta(minutes=1),
    )
    assert [(e.id, e.deprecated) for e in found.data] == [
        (key, True),
        (kept["idempotency_key"], False),
    ]
    first = found.data[1]
    assert (first.customer_id, first.external_customer_id, first.event_name) == (
        c.id,
        c.external_customer_id,
        "call",
    )
    assert first.properties == {"n": 1.5} and first.timestamp == at
    by_query = sdk.events.deprecate(kept["idempotency_key"], extra_query={"customer_id": c.id})
    assert by_query.deprecated == kept["idempotency_key"]
    assert _balance(sdk, c.id) == 100


def test_volume_counts_live_events_per_hour(metered: Server, sdk: orb.Orb) -> None:
    c = customer(sdk)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    events = [_event(c, hour + timedelta(minutes=m), 1) for m in (1, 2, 61)]
    sdk.events.ingest(events=events)
    _settled(metered)
    sdk.events.deprecate(events[1]["idempotency_key"])
    volume = sdk.events.volume.list(
        timeframe_start=hour + timedelta(minutes=30), timeframe_end=hour + timedelta(hours=2)
    )
    assert [(v.timeframe_start, v.timeframe_end, v.count) for v in volume.data] == [
        (hour, hour + timedelta(hours=1), 1),
        (hour + timedelta(hours=1), hour + timedelta(hours=2), 1),
    ]
    with metered.http() as http:
        page = http.get(
            "/events/volume", params={"timeframe_start": hour.isoformat(), "limit": 1}
        ).json()
        assert page["pagination_metadata"]["has_more"] is True
        cursor = page["pagination_metadata"]["next_cursor"]
        rest = http.get(
            "/events/volume",
            params={"timeframe_start": hour.isoformat(), "limit": 1, "cursor": cursor},
        ).json()
    assert [v["count"] for v in page["data"] + rest["data"]] == [1, 1]


# --- backfills ------------------------------------------------------------------------------


def test_a_backfill_replaces_usage_on_close_and_gives_it_back_on_revert(
    metered: Server, sdk: orb.Orb
) -> None:
    c = customer(sdk)
    increment(sdk, c.id, 1000)
    start = _priced(metered)
    old = [_event(c, start + timedelta(milliseconds=m), 10) for m in range(3)]
    sdk.events.ingest(events=old)
    _settled(metered)
    assert _balance(sdk, c.id) == 985
    created = sdk.events.backfills.create(
        timeframe_start=start, timeframe_end=start + timedelta(milliseconds=30), customer_id=c.id
    )
    assert (
        created.status,
        created.replace_existing_events,
        created.customer_id,
        created.events_ingested,
        created.reverted_at,
        created.deprecation_filter,
    ) == ("pending", True, c.id, 0, None, None)
    assert created.close_time is not None and created.close_time > created.created_at
    new = [_event(c, start + timedelta(milliseconds=m), 2) for m in range(4)]
    assert sdk.events.ingest(events=new, backfill_id=created.id).validation_failed == []
    time.sleep(0.3)
    assert _balance(sdk, c.id) == 985  # not usage until the backfill closes
    assert sdk.events.backfills.fetch(created.id).events_ingested == 4
    closed = sdk.events.backfills.close(created.id)
    assert (closed.status, closed.events_ingested) == ("reflected", 4)
    assert _balance(sdk, c.id) == 996  # 15 back, 4 drawn: one refund of the difference, 11
    assert [(e.entry_type, e.amount) for e in _entries(sdk, c.id)[-1:]] == [("amendment", 11)]
    assert sdk.events.backfills.close(created.id).status == "reflected"
    listed = sdk.events.backfills.list(customer_id=c.id, status="reflected")
    assert [b.id for b in listed.data] == [created.id]
    reverted = sdk.events.backfills.revert(created.id)
    assert reverted.status == "reverted" and reverted.reverted_at is not None
    assert _balance(sdk, c.id) == 985
    assert sdk.events.backfills.list(customer_id=c.id, status="reflected").data == []


def test_backfills_list_newest_first_in_pages(metered: Server, sdk: orb.Orb) -> None:
    c = customer(sdk)
    made = [
        sdk.events.backfills.create(
            timeframe_start=_at(300 - 30 * i),
            timeframe_end=_at(290 - 30 * i),
            customer_id=c.id,
            replace_existing_events=False,
        ).id
        for i in range(3)
    ]
    first = sdk.events.backfills.list(customer_id=c.id, limit=2)
    assert [b.id for b in first.data] == made[::-1][:2]
    assert first.pagination_metadata.has_more
    rest = sdk.events.backfills.list(
        customer_id=c.id, limit=2, cursor=first.pagination_metadata.next_cursor
    )
    assert [b.id for b in rest.data] == [made[0]] and not rest.pagination_metadata.has_more
    for backfill_id in made:
        assert sdk.events.backfills.revert(backfill_id).status == "reverted"


# --- bad input: a 400 naming the field (or a 404), nothing written ----------------------------


def test_amendments_that_break_orbs_rules_are_refused(metered: Server, sdk: orb.Orb) -> None:
    c, other = customer(sdk), customer(sdk)
    at = _priced(metered, 5)
    event = _event(c, at, 2)
    sdk.events.ingest(events=[event])
    _settled(metered)
    key = event["idempotency_key"]
    update = sdk.events.update
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        update,
        key,
        event_name="call",
        properties={"n": 1},
        timestamp=at + timedelta(seconds=1),
        customer_id=c.id,
    )
    assert body["validation_errors"][0]["field"] == "timestamp"
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        update,
        key,
        event_name="call",
        properties={"n": 1},
        timestamp=at,
        customer_id=other.id,
    )
    assert body["validation_errors"][0]["field"] == "customer_id"
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        update,
        key,
        event_name="call",
        properties={"n": {"nested": 1}},
        timestamp=at,
    )
    assert {e["field"] for e in body["validation_errors"]} == {"customer_id", "properties"}
    rejected(
        metered,
        orb.NotFoundError,
        NOT_FOUND,
        update,
        "no-such-event",
        event_name="call",
        properties={},
        timestamp=at,
        customer_id=c.id,
    )
    rejected(
        metered,
        orb.NotFoundError,
        NOT_FOUND,
        update,
        key,
        event_name="call",
        properties={},
        timestamp=at,
        customer_id="no-such-customer",
    )
    rejected(metered, orb.NotFoundError, NOT_FOUND, sdk.events.deprecate, "no-such-event")
    sdk.events.deprecate(key)
    body = rejected(
        metered,
        orb.BadRequestError,
        CONSTRAINT,
        update,
        key,
        event_name="call",
        properties={},
        timestamp=at,
        customer_id=c.id,
    )
    assert "deprecated" in body["detail"]


def test_search_and_volume_refuse_bad_input(metered: Server, sdk: orb.Orb) -> None:
    body = rejected(metered, orb.BadRequestError, VALIDATION, sdk.events.search, event_ids=[])
    assert body["validation_errors"][0]["field"] == "event_ids"
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        sdk.events.search,
        event_ids=["a"],
        timeframe_start="yesterday",
    )
    assert body["validation_errors"][0]["field"] == "timeframe_start"
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        sdk.events.volume.list,
        timeframe_start=_at(0),
        timeframe_end=_at(60),
    )
    assert body["validation_errors"][0]["field"] == "timeframe_end"
    body = raw_rejected(metered, "GET", "/events/volume", 400, VALIDATION)
    assert body["validation_errors"][0]["field"] == "timeframe_start"
    raw_rejected(
        metered,
        "GET",
        "/events/volume",
        400,
        VALIDATION,
        params={"timeframe_start": _at(60).isoformat(), "limit": 0},
    )


def test_backfills_refuse_bad_input(metered: Server, sdk: orb.Orb) -> None:
    c = customer(sdk)
    create = sdk.events.backfills.create
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        create,
        timeframe_start=_at(60 * 800),
        timeframe_end=_at(10),
    )
    assert body["validation_errors"][0]["field"] == "timeframe_end"
    body = rejected(
        metered,
        orb.BadRequestError,
        VALIDATION,
        create,
        timeframe_start=_at(60),
        timeframe_end=datetime.now(UTC) + timedelta(minutes=10),
    )
    assert body["validation_errors"][0]["field"] == "timeframe_end"
    rejected(
        metered,
        orb.BadRequestError,
        "404-feature-not-available",
        create,
        timeframe_start=_at(60),
        timeframe_end=_at(30),
        deprecation_filter="n > 1",
    )
    rejected(
        metered,
        orb.NotFoundError,
        NOT_FOUND,
        create,
        timeframe_start=_at(60),
        timeframe_end=_at(30),
        customer_id="no-such-customer",
    )
    open_one = create(timeframe_start=_at(60), timeframe_end=_at(30), customer_id=c.id)
    body = rejected(
        metered,
        orb.BadRequestError,
        CONSTRAINT,
        create,
        timeframe_start=_at(45),
        timeframe_end=_at(15),
        customer_id=c.id,
    )
    assert open_one.id in body["detail"]
    for call in (
        sdk.events.backfills.fetch,
        sdk.events.backfills.close,
        sdk.events.backfills.revert,
    ):
        rejected(metered, orb.NotFoundError, NOT_FOUND, call, "no-such-backfill")
    rejected(
        metered,
        orb.NotFoundError,
        NOT_FOUND,
        sdk.events.ingest,
        events=[_event(c, _at(40), 1)],
        backfill_id="no-such-backfill",
    )
    with pytest.raises(orb.BadRequestError) as outside:
        sdk.events.ingest(events=[_event(c, _at(5), 1)], backfill_id=open_one.id)
    assert "timeframe" in str(outside.value.body)
    raw_rejected(metered, "GET", "/events/backfills", 400, VALIDATION, params={"status": "closed"})
    sdk.events.backfills.revert(open_one.id)
    rejected(
        metered,
        orb.BadRequestError,
        CONSTRAINT,
        sdk.events.ingest,
        events=[_event(c, _at(40), 1)],
        backfill_id=open_one.id,
    )
    rejected(metered, orb.BadRequestError, CONSTRAINT, sdk.events.backfills.close, open_one.id)


# --- the grace period (the session's server keeps usage pending for an hour) -----------------


def test_events_older_than_the_grace_period_need_a_backfill(server: Server) -> None:
    with server.client(_strict_response_validation=True) as client:
        c = customer(client)
        at = _at(24 * 60)
        backfill = client.events.backfills.create(
            timeframe_start=at - timedelta(hours=1), timeframe_end=_at(61), customer_id=c.id
        )
        event = _event(c, at, 3)
        client.events.ingest(events=[event], backfill_id=backfill.id)
        assert client.events.backfills.close(backfill.id).status == "reflected"
        key = event["idempotency_key"]
        body = rejected(
            server,
            orb.BadRequestError,
            VALIDATION,
            client.events.update,
            key,
            event_name="call",
            properties={"n": 1},
            timestamp=at,
            customer_id=c.id,
        )
        assert body["validation_errors"][0]["field"] == "timestamp"
        assert "grace period" in body["validation_errors"][0]["message"]
        body = rejected(server, orb.BadRequestError, VALIDATION, client.events.deprecate, key)
        assert body["validation_errors"][0]["field"] == "event_id"
        young = client.events.backfills.create
        body = rejected(
            server,
            orb.BadRequestError,
            VALIDATION,
            young,
            timeframe_start=_at(120),
            timeframe_end=_at(30),
            customer_id=c.id,
        )
        assert body["validation_errors"][0]["field"] == "timeframe_end"
        recent = _at(1)
        fresh = _event(c, recent, 1)
        client.events.ingest(events=[fresh])
        amended = client.events.update(
            fresh["idempotency_key"],
            event_name="call",
            properties={"n": 2},
            timestamp=recent,
            customer_id=c.id,
        )
        assert amended.amended == fresh["idempotency_key"]
