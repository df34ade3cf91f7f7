"""Measuring one row against a running server: a check request first, then wrk.

Every row starts with a request whose answer is checked (status and content), so wrk only
ever measures correct answers. Reads name their page by a cursor built from the first
page's (`cursor_at`); writes send new idempotency keys, spread over a list of customers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from benchmarks import seed, servers, usage, wrk
from benchmarks.fixture import Fixture
from benchmarks.model import BESIDE_CONNECTIONS, PAGE, Result, Run
from drawdown.ledger.dates import format_instant

INGEST_BATCH = 500
AMENDABLE_PER_CUSTOMER = 20  # 1,000 deducted events over the ingest customers
BACKFILL_EVENTS = 10_000
LAG_WAIT_SECONDS = 120
BESIDE_HEAD_START_SECONDS = 1  # the neighbour's load runs before and after the measured one


def load(run: Run, result: Result, url: str, script: str, args: list[str]) -> None:
    """Drive `url` with wrk at the run's load; the figure is requests per second."""
    _summarize(result, wrk.run(url, script, args, run.options.load))


def _summarize(result: Result, summary: wrk.Summary, per_request: int = 1) -> None:
    result.value, result.errors = summary.rate * per_request, summary.errors
    result.requests, result.p50_ms, result.p99_ms = (summary.requests, summary.p50_ms,
                                                     summary.p99_ms)  # fmt: skip


class Driver:
    """Runs the rows of one running server."""

    def __init__(self, run: Run, server: servers.Server, key: str, fixture: Fixture,
                 database_url: str) -> None:  # fmt: skip
        self.run, self.server, self.key, self.fixture = run, server, key, fixture
        self.database_url = database_url
        self.http = httpx.Client(base_url=server.base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"})  # fmt: skip

    def measure(self, result: Result) -> None:
        name = result.spec.name.removesuffix("-2p").removesuffix("-batch-off")
        if name == "rss-big":
            result.value = max(self.server.rss_per_process()) / 2**20
        elif name.startswith("decrement-spread-beside-"):
            self._beside(result, "blocks-" + name.removeprefix("decrement-spread-beside-"))
        elif name.startswith(("decrement-", "increment-")):
            entry_type, audience = name.split("-", 1)
            self._entries(result, entry_type, audience)
        elif name.startswith("ingest-"):
            self._ingest(result, "spread" if name.endswith("-wide") else "ingest")
        elif name.startswith("usage-lag"):
            self._lag(result, "spread" if name.endswith("-wide") else "ingest")
        elif name == "usage-amend":
            self._amend(result)
        elif name == "backfill-close-10k":
            customer = self.fixture.spread[-1]  # not one of the ingest rows' customers
            result.value = usage.backfill_close_ms(self.http, self.database_url, customer,
                                                   BACKFILL_EVENTS)  # fmt: skip
            result.requests = 1
        else:
            self._get(result, name)

    def _get(self, result: Result, name: str) -> None:
        path, check = self._read(name)
        page = self.http.get(path)
        if page.status_code != 200:
            raise RuntimeError(f"GET {path} answered {page.status_code}: {page.text[:200]}")
        check(page.json())
        load(self.run, result, self.server.base_url + path, "get.lua", [self.key])

    def _entries_args(self, result: Result, entry_type: str, audience: str) -> list[str]:
        """Check one entry of `entry_type` for `audience`'s first customer; ledger_entry.lua's
        arguments."""
        customers = self.fixture.files[audience]
        body = {"entry_type": entry_type, "amount": 1}
        first = customers.read_text().split()[0]
        headers = {"Idempotency-Key": f"check-{uuid.uuid4().hex}"}
        check = self.http.post(
            f"/v1/customers/{first}/credits/ledger_entry", json=body, headers=headers
        )
        if check.status_code != 201:
            raise RuntimeError(f"{entry_type} answered {check.status_code}: {check.text[:200]}")
        prefix = f"{result.spec.name}-{audience}-{uuid.uuid4().hex[:12]}"
        return [self.key, str(customers), entry_type, "1", prefix]

    def _entries(self, result: Result, entry_type: str, audience: str) -> None:
        args = self._entries_args(result, entry_type, audience)
        load(self.run, result, self.server.base_url + "/", "ledger_entry.lua", args)

    def _beside(self, result: Result, neighbour: str) -> None:
        """Decrements spread over the customers while `neighbour`'s one customer is
        decremented on `BESIDE_CONNECTIONS` more connections, from a second earlier to a
        second later; its rate goes to the run's notes."""
        o = self.run.options.load
        around = wrk.Load(1, BESIDE_CONNECTIONS, o.seconds + 2 * BESIDE_HEAD_START_SECONDS)
        url = self.server.base_url + "/"
        beside_args = self._entries_args(result, "decrement", neighbour)
        spread_args = self._entries_args(result, "decrement", "spread")
        running = wrk.start(url, "ledger_entry.lua", beside_args, around)
        try:
            time.sleep(BESIDE_HEAD_START_SECONDS)
            load(self.run, result, url, "ledger_entry.lua", spread_args)
            beside = running.summary()
        finally:
            running.stop()
        result.errors += beside.errors
        self.run.notes.append(
            f"`{result.spec.name}` ({result.db}): the {neighbour.removeprefix('blocks-')}-block "
            f"customer took {beside.rate:,.0f} decrements/s beside it ({beside.errors} errors)"
        )

    def _ingest(self, result: Result, audience: str, pace: wrk.Load | None = None) -> str:
        """Ingest batches for `audience`; returns the prefix of the events' keys."""
        customers = self.fixture.files[audience]
        first = customers.read_text().split()[0]
        check = self.http.post("/v1/ingest", json={"events": [usage.event(first, "check")]})
        if check.status_code != 200:
            raise RuntimeError(f"ingest answered {check.status_code}: {check.text[:200]}")
        prefix = f"{result.spec.name}-{uuid.uuid4().hex[:12]}"
        args = [self.key, str(customers), str(INGEST_BATCH), usage.EVENT_NAME, prefix]
        summary = wrk.run(self.server.base_url + "/", "ingest.lua", args,
                          pace or self.run.options.load)  # fmt: skip
        _summarize(result, summary, INGEST_BATCH)
        return prefix

    def _lag(self, result: Result, audience: str) -> None:
        """Ingest on two connections, wait until everything is deducted, read the lags."""
        o = self.run.options.load
        prefix = self._ingest(result, audience, wrk.Load(1, 2, o.seconds))
        errors = result.errors
        lags = usage.wait_for_lags(self.database_url, LAG_WAIT_SECONDS, prefix)
        result.requests, result.errors = len(lags), errors
        result.p50_ms, result.p99_ms = usage.percentile(lags, 50), usage.percentile(lags, 99)
        result.value = result.p99_ms

    def _amend(self, result: Result) -> None:
        """Amend deducted events (their quantity: each amendment corrects the ledger)."""
        events = self.fixture.files["amend"]
        customers = self.fixture.files["ingest"].read_text().split()
        usage.amendable(self.http, self.database_url, customers, AMENDABLE_PER_CUSTOMER, events)
        key, customer, at = events.read_text().split("\n")[0].split()
        body = {"event_name": usage.UNITS_EVENT, "timestamp": at, "customer_id": customer,
                "properties": {"n": 7}}  # fmt: skip
        check = self.http.put(f"/v1/events/{key}", json=body)
        if check.status_code != 200:
            raise RuntimeError(f"amend answered {check.status_code}: {check.text[:200]}")
        args = [self.key, str(events), usage.UNITS_EVENT]
        load(self.run, result, self.server.base_url + "/", "amend.lua", args)

    def _read(self, name: str) -> tuple[str, Callable[[Any], None]]:
        fx = self.fixture
        if name == "ping":
            return "/v1/ping", lambda body: _expect(body == {"response": "pong"}, body)
        size, _, what = name.partition("-")[2].partition("-")
        if name.startswith("credits-"):
            seeded = fx.small if size == "small" else _big(fx)
            return f"/v1/customers/{seeded.customer_id}/credits", _blocks
        if name.startswith("ledger-"):
            return self._page(fx.small if size == "small" else _big(fx), what)
        return _filter(_big(fx), name.removeprefix("filter-"))

    def _page(self, seeded: seed.Seeded, where: str) -> tuple[str, Callable[[Any], None]]:
        first = _ledger_path(seeded.customer_id)
        if where == "first":
            return first, _page_starting(seeded.entries)
        seq = seeded.entries // 2 if where == "middle" else PAGE + 1
        cursor = cursor_at(self.http.get(first).json(), seeded.keys[seq])
        return _ledger_path(seeded.customer_id, cursor=cursor), _page_starting(seq - 1)


def _big(fixture: Fixture) -> seed.Seeded:
    assert fixture.big is not None, "the big ledger was not seeded"
    return fixture.big


def _ledger_path(customer_id: str, **params: str) -> str:
    return f"/v1/customers/{customer_id}/credits/ledger?" + urlencode({"limit": PAGE, **params})


def cursor_at(first_page: Any, key: seed.EntryKey) -> str:
    """A cursor to the page after entry `key`, in the form of the cursor the API returned
    for the first page (walking ten thousand pages to the middle of a million entries would
    take minutes); the row's check request confirms the page it opens."""
    cursor = first_page["pagination_metadata"]["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert isinstance(payload.get("k"), list) and len(payload["k"]) == 3, payload
    payload["k"] = [format_instant(key.created_at, fractions=True), key.seq, key.id]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _expect(ok: bool, body: Any) -> None:
    if not ok:
        raise RuntimeError(f"unexpected response: {str(body)[:300]}")


def _blocks(body: Any) -> None:
    _expect(len(body["data"]) == 1 and body["data"][0]["balance"] > 0, body)


def _page_starting(seq: int) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        data = body["data"]
        _expect(len(data) == min(PAGE, seq), body)
        _expect(data[0]["ledger_sequence_number"] == seq, data[0])

    return check


def _filter(big: seed.Seeded, name: str) -> tuple[str, Callable[[Any], None]]:
    middle = big.keys[big.entries // 2]
    at = format_instant(middle.created_at, fractions=True)
    filters: dict[str, tuple[dict[str, str], Callable[[list[Any]], bool]]] = {
        "entry_type-decrement": ({"entry_type": "decrement"},
                                 lambda d: {e["entry_type"] for e in d} == {"decrement"}),
        "entry_type-increment": ({"entry_type": "increment"}, lambda d: len(d) == 1),
        "entry_status-committed": ({"entry_status": "committed"}, lambda d: len(d) == PAGE),
        "entry_status-pending": ({"entry_status": "pending"}, lambda d: d == []),
        "currency": ({"currency": "credits"}, lambda d: len(d) == PAGE),
        "minimum_amount": ({"minimum_amount": "10"},
                           lambda d: len(d) == PAGE and min(e["amount"] for e in d) >= 10),
        "created_at-gte": ({"created_at[gte]": at}, lambda d: len(d) == PAGE),
        "created_at-lt": ({"created_at[lt]": at},
                          lambda d: d[0]["ledger_sequence_number"] == middle.seq - 1),
    }  # fmt: skip
    params, ok = filters[name]
    path = _ledger_path(big.customer_id, **params)
    return path, lambda body: _expect(ok(body["data"]), body["data"][:2])
