"""What one benchmark run is: its options, its results so far, and how rows are labelled."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks import wrk
from benchmarks.rows import BY_NAME, GLOBAL_SERVERS, IN_PROCESS, SPECS, Spec

PAGE = 100  # entries per ledger page, the API's and the rows'
# Connections (one wrk thread) that keep decrementing the 10- or the 10,000-block customer
# while `decrement-spread-beside-*` measure decrements spread over the other customers.
BESIDE_CONNECTIONS = 4


@dataclass(frozen=True)
class Options:
    load: wrk.Load
    big_entries: int
    small_entries: int
    customers: int
    blocks: int  # open blocks of the `decrement-blocks-10k` customer
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
                                 customers=f"{o.customers:,}", blocks=f"{o.blocks:,}",
                                 beside=BESIDE_CONNECTIONS)  # fmt: skip

    def add(self, spec: Spec, db: str, processes: int | None) -> Result:
        result = Result(spec, db, processes, self.label(spec))
        self.results.append(result)
        return result

    def find(self, db: str, name: str) -> Result | None:
        where = IN_PROCESS if BY_NAME[name].server in GLOBAL_SERVERS else db
        return next((r for r in self.results if r.db == where and r.spec.name == name), None)

    def baseline(self, result: Result) -> Result | None:
        """The result `result` is compared with: its baseline row, in the database the row's
        spec names for `result.db` (the same one unless it says otherwise)."""
        where = result.spec.baseline_of(result.db)
        return None if where is None else self.find(where[1], where[0])


def count(n: int) -> str:
    """1000 -> 1k, 1000000 -> 1M (exact multiples only; otherwise the number)."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return f"{n:,}"


def progress(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)
