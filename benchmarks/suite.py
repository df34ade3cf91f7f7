"""One benchmark run: the ceilings and the core, then per database the seeded servers.

Order: framework ceilings and the in-process core first (nothing else running), then all
databases are created and seeded in one pass (`fixture`: the same customers and ledgers in
each), then per database the `main` server (1 process, group commit on: every read and
write row), `batch-off` (group commit off), `usage` (no grace period) and `two`
(`--workers 2`), each started on its own fresh database and stopped after its rows, also
when one fails. A row's failure is reported in its line of the table, never fatal.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks import core, driver, fixture, servers, usage
from benchmarks.model import Result, Run, progress
from benchmarks.rows import BY_NAME, IN_PROCESS, POSTGRES, SQLITE

SERVER_ENV = {
    "main": {}, "batch-off": {"DRAWDOWN_COMMIT_BATCH_MAX": "1"}, "two": {},
    "usage": {"DRAWDOWN_USAGE_GRACE_SECONDS": "0"},
}  # fmt: skip
SERVER_PROCESSES = {"main": 1, "batch-off": 1, "two": 2, "usage": 1}


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
        seeded = fixture.seed_run(run, urls)
        for (db, name), url in urls.items():
            _serve(run, db, name, url, keys[(db, name)], seeded)
    finally:
        try:
            databases.drop_all()
        except Exception as error:  # never hide the run's own error behind this one
            progress(f"could not drop the benchmark's PostgreSQL databases: {error}")


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
        driver.load(run, result, server.base_url + "/v1/ping", "get.lua", ["unused"])
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


def _serve(run: Run, db: str, name: str, url: str, key: str, seeded: fixture.Fixture) -> None:
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
        rows = driver.Driver(run, server, key, seeded, url)
        for result in results:
            progress(f"{db}: {result.spec.name}")
            _guarded(result, rows.measure)
    finally:
        server.stop()


@contextlib.contextmanager
def scratch_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="drawdown-bench-") as path:
        yield Path(path)
