"""Usage through the official SDK's `events.ingest`, on SQLite and PostgreSQL: a server
with no grace period deducts accepted usage at once, drawing only from blocks whose filters
admit the item; invalid batches are refused whole with Orb's `validation_failed`; `debug`
echoes what was ingested and what was a duplicate; concurrent duplicate batches are
deducted once. The catalogue is set up with the CLI (`drawdown items/prices add`)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orb
import pytest
from rules_helpers import customer, increment

from conftest import Server, run_cli, start_server, stop_server, unique

FAST = {"DRAWDOWN_USAGE_GRACE_SECONDS": "0", "DRAWDOWN_USAGE_DEDUCT_POLL_SECONDS": "0.1"}
WAIT_SECONDS = 15.0
GPU_ONLY = [{"field": "item_id", "operator": "includes", "values": ["gpu"]}]
NO_GPU = [{"field": "item_id", "operator": "excludes", "values": ["gpu"]}]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def metered(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Server]:
    url = database_factory(request.param)
    assert "added item gpu" in run_cli(url, "items", "add", "gpu", "--name", "GPU time")
    run_cli(url, "items", "add", "api", "--name", "API calls")
    run_cli(url, "prices", "add", "--item", "gpu", "--event-name", "gpu_job",
            "--metric", "sum:seconds", "--credits-per-unit", "0.25")  # fmt: skip
    run_cli(url, "prices", "add", "--item", "api", "--event-name", "api_call",
            "--metric", "count", "--credits-per-unit", "1")  # fmt: skip
    assert "sum:seconds" in run_cli(url, "prices", "list")
    srv = start_server(url, env=FAST)
    yield srv
    stop_server(srv)


@pytest.fixture
def sdk(metered: Server) -> Iterator[orb.Orb]:
    with metered.client() as client:
        yield client


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _event(external_id: str, name: str = "api_call", **props: Any) -> dict[str, Any]:
    return {"idempotency_key": unique("ev"), "event_name": name, "timestamp": _now(),
            "properties": props, "external_customer_id": external_id}  # fmt: skip


def _usage(client: orb.Orb, customer_id: str, total: Decimal) -> list[Any]:
    """The customer's decrement entries (oldest first), once they add up to ``total``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        page = client.customers.credits.ledger.list(customer_id, entry_type="decrement", limit=100)
        found = list(reversed(page.data))
        if sum(Decimal(str(e.amount)) for e in found) >= total or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_usage_draws_only_blocks_whose_filters_admit_the_item(
    metered: Server, sdk: orb.Orb
) -> None:
    client = sdk
    c = customer(client)
    ext = c.external_customer_id
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    gpu_only = increment(client, c.id, 10, expiry_date=soon, filters=GPU_ONLY).credit_block.id
    no_gpu = increment(client, c.id, 50, filters=NO_GPU).credit_block.id
    general = increment(client, c.id, 100, per_unit_cost_basis="0.10").credit_block.id
    response = client.events.ingest(events=[
        _event(ext, "gpu_job", seconds=60), _event(ext, "gpu_job", seconds=0.5),
        _event(ext), _event(ext), _event(ext, "unpriced"), _event(ext, "gpu_job", seconds="x"),
    ])  # fmt: skip
    assert response.validation_failed == []
    found = _usage(client, c.id, Decimal("17.125"))
    drawn = sorted((e.credit_block.id, Decimal(str(e.amount)), e.metadata["usage_item_id"])
                   for e in found)  # fmt: skip
    # gpu: 60.5 s x 0.25 = 15.125, from the gpu-only block (soonest expiry), then the block
    # without filters; never from the block that excludes gpu. api: 2 calls x 1 = 2, from
    # the block that excludes gpu (cost basis null sorts before 0.10).
    assert drawn == sorted([(gpu_only, Decimal(10), "gpu"), (general, Decimal("5.125"), "gpu"),
                            (no_gpu, Decimal(2), "api")])  # fmt: skip
    for entry in found:
        assert entry.description in ("Usage: GPU time", "Usage: API calls")
        assert entry.metadata["usage_window_start"] <= entry.metadata["usage_window_end"]
        assert int(entry.metadata["usage_events"]) >= 1
    balances = {b.id: Decimal(str(b.balance)) for b in
                client.customers.credits.list(c.id, include_all_blocks=True)}  # fmt: skip
    assert balances == {gpu_only: 0, no_gpu: 48, general: Decimal("94.875")}


def test_an_invalid_event_refuses_the_whole_batch(metered: Server, sdk: orb.Orb) -> None:
    client = sdk
    c = customer(client)
    good = _event(c.external_customer_id)
    late_future = {**_event(c.external_customer_id),
                   "timestamp": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}  # fmt: skip
    nobody = {**_event("no-such-customer")}
    both = {**_event(c.external_customer_id), "customer_id": c.id}
    nested = _event(c.external_customer_id)
    nested["properties"] = {"a": {"b": 1}}
    with pytest.raises(orb.BadRequestError) as info:
        client.events.ingest(events=[good, late_future, nobody, both, nested])
    body = info.value.body
    assert isinstance(body, dict)
    failed = {f["idempotency_key"]: f["validation_errors"] for f in body["validation_failed"]}
    assert sorted(failed) == sorted(e["idempotency_key"] for e in (late_future, nobody, both,
                                                                   nested))  # fmt: skip
    assert all(isinstance(m, str) for messages in failed.values() for m in messages)
    with metered.http() as http:
        again = http.post("/ingest", params={"debug": "true"}, json={"events": [good]})
    assert again.status_code == 200
    assert again.json()["debug"] == {"duplicate": [], "ingested": [good["idempotency_key"]]}


def test_debug_echoes_ingested_and_duplicate(metered: Server, sdk: orb.Orb) -> None:
    client = sdk
    c = customer(client)
    first, second = _event(c.external_customer_id), _event(c.external_customer_id)
    first["customer_id"], first["external_customer_id"] = c.id, None
    raw = client.events.with_raw_response.ingest(events=[first], extra_query={"debug": "true"})
    assert raw.http_response.json() == {"validation_failed": [], "debug": {
        "duplicate": [], "ingested": [first["idempotency_key"]]}}  # fmt: skip
    raw = client.events.with_raw_response.ingest(events=[first, second, second],
                                                 extra_query={"debug": "true"})  # fmt: skip
    debug = raw.http_response.json()["debug"]
    assert debug["ingested"] == [second["idempotency_key"]]
    assert sorted(debug["duplicate"]) == sorted([first["idempotency_key"],
                                                 second["idempotency_key"]])  # fmt: skip
    parsed = raw.parse()
    assert parsed.validation_failed == []
    assert _usage(client, c.id, Decimal(2))  # both priced at 1, deducted once each
    time.sleep(0.3)
    found = _usage(client, c.id, Decimal(2))
    assert sum(Decimal(str(e.amount)) for e in found) == 2


def test_concurrent_duplicate_batches_are_deducted_once(metered: Server, sdk: orb.Orb) -> None:
    client = sdk
    c = customer(client)
    increment(client, c.id, 1000)
    batch = [_event(c.external_customer_id) for _ in range(100)]

    def send(_: int) -> Any:
        with metered.client() as own:
            return own.events.ingest(events=batch)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(send, range(8)))
    assert all(r.validation_failed == [] for r in replies)
    found = _usage(client, c.id, Decimal(100))
    time.sleep(0.5)  # a second deduction, if there were one, would land now
    found = _usage(client, c.id, Decimal(100))
    assert sum(Decimal(str(e.amount)) for e in found) == 100
    assert client.customers.credits.list(c.id).data[0].balance == 900
