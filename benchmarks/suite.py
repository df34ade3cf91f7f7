"""One benchmark run: the ceilings and the core, then per database the seeded servers.

Order: framework ceilings and the in-process core first (nothing else running), then all
databases are created and seeded in one pass (the same customers and ledgers in each), then
per database the `main` server (1 process, group commit on: every read and write row),
`batch-off` (group commit off) and `two` (`--workers 2`), each started on its own fresh
database and stopped after its rows, also when one fails.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from benchmarks import core, seed, servers, usage, wrk
from benchmarks.rows import BY_NAME, GLOBAL_SERVERS, IN_PROCESS, POSTGRES, SPECS, SQLITE, Spec
from drawdown.ledger.dates import format_instant
from drawdown.store.database import Database

SERVER_ENV = {
    "main": {}, "batch-off": {"DRAWDOWN_COMMIT_BATCH_MAX": "1"}, "two": {},
    "usage": {"DRAWDOWN_USAGE_GRACE_SECONDS": "0"},
}  # fmt: skip
SERVER_PROCESSES = {"main": 1, "batch-off": 1, "two": 2, "usage": 1}
INGEST_CUSTOMERS = 50
INGEST_BATCH = 500
AMENDABLE_PER_CUSTOMER = 20  # 1,000 deducted events over the ingest customers
BACKFILL_EVENTS = 10_000
LAG_WAIT_SECONDS = 60
PAGE = 100


@dataclass(frozen=True)
class Options:
    load: wrk.Load
    big_entries: int
    small_entries: int
    customers: int
    core_seconds: float
    postgres_url: str | None
    processes: frozenset[int]
    selected: frozenset[str]


@dataclass
class Result:
    spec: Spec
    db: str
    processes: int | None
    label: str
    value: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    requests: int | None = None  # completed within the run (wrk rows)
    problem: str | None = None  # why the row could not be measured


@dataclass
class Fixture:
    """What was seeded (the same in every database) and the files the Lua scripts read."""

    spread: list[str]
    hot: str
    small: seed.Seeded
    big: seed.Seeded | None
    files: dict[str, Path]
    seconds: float = 0.0


@dataclass
class Run:
    options: Options
    scratch: Path
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def wanted(self, server: str) -> list[Spec]:
        return [s for s in SPECS if s.server == server and s.name in self.options.selected]

    def label(self, spec: Spec) -> str:
        o = self.options
        return spec.label.format(small=count(o.small_entries), big=count(o.big_entries),
                                 customers=f"{o.customers:,}")  # fmt: skip

    def add(self, spec: Spec, db: str, processes: int | None) -> Result:
        result = Result(spec, db, processes, self.label(spec))
        self.results.append(result)
        return result

    def find(self, db: str, name: str) -> Result | None:
        where = IN_PROCESS if BY_NAME[name].server in GLOBAL_SERVERS else db
        return next((r for r in self.results if r.db == where and r.spec.name == name), None)


def count(n: int) -> str:
    """1000 -> 1k, 1000000 -> 1M (exact multiples only; otherwise the number)."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return f"{n:,}"


def progress(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the run ------------------------------------------------------------------------------


def execute(run: Run) -> None:
    _ceilings(run)
    _core(run)
    backends = [SQLITE] + ([POSTGRES] if run.options.postgres_url else [])
    needed = [name for name in SERVER_ENV if run.wanted(name) and _runs(run, name)]
    if not needed:
        return
    databases = servers.Databases(run.scratch, run.options.postgres_url)
    try:
        urls = {(db, name): _fresh(databases, db, name) for db in backends for name in needed}
        keys = {where: servers.create_api_key(url) for where, url in urls.items()}
        fixture = _seed(run, urls)
        for (db, name), url in urls.items():
            _serve(run, db, name, url, keys[(db, name)], fixture)
    finally:
        databases.drop_all()


def _runs(run: Run, server: str) -> bool:
    return SERVER_PROCESSES[server] in run.options.processes or server == "main"


def _fresh(databases: servers.Databases, db: str, name: str) -> str:
    return databases.sqlite(name) if db == SQLITE else databases.postgres(name)


def _guarded(result: Result, work: Callable[[Result], None]) -> None:
    try:
        work(result)
    except Exception as error:  # one row's failure is reported in the table, not fatal
        result.problem = f"{type(error).__name__}: {error}"[:300]
        progress(f"  {result.spec.name}: {result.problem}")


def _ceilings(run: Run) -> None:
    for name in ("ceiling-starlette", "ceiling-fastapi"):
        if name not in run.options.selected:
            continue
        progress(name)
        result = run.add(BY_NAME[name], IN_PROCESS, 1)
        _guarded(result, functools.partial(_ceiling, run, name.removeprefix("ceiling-")))


def _ceiling(run: Run, framework: str, result: Result) -> None:
    server = servers.start_ceiling(framework, run.scratch)
    try:
        _load(run, result, server.base_url + "/v1/ping", "get.lua", ["unused"])
    finally:
        server.stop()


def _core(run: Run) -> None:
    for name, measure in (("core-state", core.state_building_rate),
                          ("core-decrement", core.decrement_rate)):  # fmt: skip
        if name in run.options.selected:
            result = run.add(BY_NAME[name], IN_PROCESS, None)
            progress(name)
            _guarded(result, functools.partial(_core_row, measure, run.options.core_seconds))


def _core_row(measure: Callable[[float], float], seconds: float, result: Result) -> None:
    result.value = measure(seconds)


def _load(run: Run, result: Result, url: str, script: str, args: list[str]) -> None:
    summary = wrk.run(url, script, args, run.options.load)
    result.value, result.errors, result.requests = summary.rate, summary.errors, summary.requests
    result.p50_ms, result.p99_ms = summary.p50_ms, summary.p99_ms


# --- seeding ------------------------------------------------------------------------------


def _seed(run: Run, urls: dict[tuple[str, str], str]) -> Fixture:
    o = run.options
    big_needed = any("{big}" in BY_NAME[n].label for n in o.selected)
    mains = [where for where in urls if where[1] == "main"]
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        dbs = {where: stack.enter_context(seed.opened(url)) for where, url in urls.items()}
        everywhere = list(dbs.values())
        now = datetime.now(UTC)
        origin = now - timedelta(milliseconds=o.big_entries + o.small_entries + 60_000)
        ids = seed.create_customers(everywhere, o.customers + 3, origin)
        spread, (hot, small_id, big_id) = ids[: o.customers], ids[o.customers :]
        progress(f"seeding {o.customers:,} funded customers and two {count(o.small_entries)} "
                 f"ledgers into {len(dbs)} database(s)")  # fmt: skip
        seed.fund_customers(everywhere, spread, origin)
        _ledger(everywhere, hot, o.small_entries, now)
        small = _ledger(everywhere, small_id, o.small_entries, now)
        big = None
        if big_needed and mains:
            progress(f"seeding a {count(o.big_entries)}-entry ledger into "
                     f"{', '.join(db for db, _ in mains)}")  # fmt: skip
            big = _ledger([dbs[w] for w in mains], big_id, o.big_entries, now)
        for db in everywhere:
            seed.analyze(db)
    seconds = time.perf_counter() - started
    run.notes.append(f"seeding (all databases, through the store) took {seconds:.0f} s")
    progress(f"seeded in {seconds:.1f} s")
    files = {"spread": run.scratch / "spread.txt", "hot": run.scratch / "hot.txt",
             "big": run.scratch / "big.txt", "ingest": run.scratch / "ingest.txt",
             "amend": run.scratch / "amend.txt"}  # fmt: skip
    files["spread"].write_text("\n".join(spread) + "\n")
    files["ingest"].write_text("\n".join(spread[:INGEST_CUSTOMERS]) + "\n")
    files["hot"].write_text(hot + "\n")
    files["big"].write_text(big_id + "\n")
    return Fixture(spread, hot, small, big, files, seconds)


def _ledger(dbs: list[Database], customer_id: str, entries: int, now: datetime) -> seed.Seeded:
    """A ledger whose entries are 1 ms apart, the newest a moment before `now`."""
    origin = now - timedelta(milliseconds=entries + 1_000)
    return seed.seed_ledger(dbs, customer_id, entries,
                            lambda p: origin + timedelta(milliseconds=p),
                            remember=(entries // 2, PAGE + 1))  # fmt: skip


# --- one server and its rows ------------------------------------------------------------


def _serve(run: Run, db: str, name: str, url: str, key: str, fixture: Fixture) -> None:
    specs = run.wanted(name)
    processes = SERVER_PROCESSES[name]
    results = [run.add(spec, db, processes) for spec in specs]
    progress(f"{db}: starting the {name} server ({processes} process(es))")
    if name == "usage":
        usage.price_catalogue(url)
    try:
        server = servers.start_drawdown(f"{db}-{name}", url, key, run.scratch,
                                        workers=processes, env=SERVER_ENV[name])  # fmt: skip
    except Exception as error:
        for result in results:
            result.problem = f"server did not start: {error}"[:300]
        return
    try:
        driver = Driver(run, server, key, fixture, url)
        for result in results:
            progress(f"{db}: {result.spec.name}")
            _guarded(result, driver.measure)
    finally:
        server.stop()


class Driver:
    """Runs one row against a running server: a check request first, then wrk."""

    def __init__(
        self, run: Run, server: servers.Server, key: str, fixture: Fixture, database_url: str
    ) -> None:
        self.run, self.server, self.key, self.fixture = run, server, key, fixture
        self.database_url = database_url
        self.http = httpx.Client(base_url=server.base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"})  # fmt: skip

    def measure(self, result: Result) -> None:
        name = result.spec.name.removesuffix("-2p").removesuffix("-batch-off")
        if name == "rss-big":
            result.value = self.server.rss_bytes() / 2**20
            return
        if name.startswith(("decrement-", "increment-")):
            self._entries(result, name)
            return
        if name.startswith("ingest-"):
            self._ingest(result, "spread" if name.endswith("-wide") else "ingest")
            return
        if name == "usage-lag":
            self._lag(result)
            return
        if name == "usage-amend":
            self._amend(result)
            return
        if name == "backfill-close-10k":
            customer = self.fixture.spread[-1]  # not one of the ingest rows' customers
            result.value = usage.backfill_close_ms(self.http, self.database_url, customer,
                                                   BACKFILL_EVENTS)  # fmt: skip
            result.requests = 1
            return
        path, check = self._read(name)
        page = self.http.get(path)
        if page.status_code != 200:
            raise RuntimeError(f"GET {path} answered {page.status_code}: {page.text[:200]}")
        check(page.json())
        _load(self.run, result, self.server.base_url + path, "get.lua", [self.key])

    def _entries(self, result: Result, name: str) -> None:
        entry_type, audience = name.split("-", 1)
        customers = self.fixture.files[audience]
        body = {"entry_type": entry_type, "amount": 1}
        first = customers.read_text().split()[0]
        headers = {"Idempotency-Key": f"check-{uuid.uuid4().hex}"}
        check = self.http.post(
            f"/v1/customers/{first}/credits/ledger_entry", json=body, headers=headers
        )
        if check.status_code != 201:
            raise RuntimeError(f"{entry_type} answered {check.status_code}: {check.text[:200]}")
        prefix = f"{result.spec.name}-{uuid.uuid4().hex[:12]}"
        args = [self.key, str(customers), entry_type, "1", prefix]
        _load(self.run, result, self.server.base_url + "/", "ledger_entry.lua", args)

    def _ingest(self, result: Result, audience: str, load: wrk.Load | None = None) -> None:
        customers = self.fixture.files[audience]
        first = customers.read_text().split()[0]
        check = self.http.post("/v1/ingest", json={"events": [usage.event(first, "check")]})
        if check.status_code != 200:
            raise RuntimeError(f"ingest answered {check.status_code}: {check.text[:200]}")
        prefix = f"{result.spec.name}-{uuid.uuid4().hex[:12]}"
        args = [self.key, str(customers), str(INGEST_BATCH), usage.EVENT_NAME, prefix]
        summary = wrk.run(self.server.base_url + "/", "ingest.lua", args,
                          load or self.run.options.load)  # fmt: skip
        result.value, result.errors = summary.rate * INGEST_BATCH, summary.errors
        result.requests, result.p50_ms, result.p99_ms = (summary.requests, summary.p50_ms,
                                                         summary.p99_ms)  # fmt: skip

    def _lag(self, result: Result) -> None:
        """Ingest on two connections, wait until everything is deducted, read the lags."""
        o = self.run.options.load
        self._ingest(result, "ingest", wrk.Load(threads=1, connections=2, seconds=o.seconds))
        errors = result.errors
        lags = usage.wait_for_lags(self.database_url, LAG_WAIT_SECONDS)
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
        _load(
            self.run,
            result,
            self.server.base_url + "/",
            "amend.lua",
            [self.key, str(events), usage.UNITS_EVENT],
        )

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


@contextlib.contextmanager
def scratch_directory() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="drawdown-bench-") as path:
        yield Path(path)
