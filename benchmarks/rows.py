"""Every row the benchmark can measure: what it is, what it is compared with, its targets.

Rows are named once here (`--only` selects by these names, shell patterns allowed); each
row's baseline is another row measured in the same run, so the ratio column compares like
with like on one machine at one moment. A baseline is the same database's row unless a
database names another (PostgreSQL's decrements are judged against SQLite's).

Targets carry the issue that set them: issue 20's (the performance targets), issue 23's
(a ledger of 10,000 open blocks costs nothing extra), and issue 10's or 15's where no later
issue restated them. A row is judged on its database's targets; all must hold. "Cost ≤ 1.2 ×
baseline" is a ratio of throughputs ≥ 1 / 1.2 = 0.83.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

SQLITE, POSTGRES, IN_PROCESS = "SQLite", "PostgreSQL", "—"
FLAT = 1 / 1.2  # cost at most 1.2 × the baseline's


@dataclass(frozen=True)
class Target:
    """A bound on the figure and/or on its ratio to the baseline, and the issue setting it."""

    issue: int
    rate_min: float | None = None
    ratio_min: float | None = None
    value_max: float | None = None  # e.g. megabytes, milliseconds

    def describe(self, unit: str) -> str:
        parts = []
        if self.rate_min is not None:
            parts.append(f"≥ {self.rate_min:,.0f}{unit}")
        if self.value_max is not None:
            parts.append(f"≤ {self.value_max:,.0f} {unit.strip()}")
        if self.ratio_min is not None:
            parts.append("cost ≤ 1.2×" if self.ratio_min == FLAT else f"≥ {self.ratio_min:g}×")
        return ", ".join(parts)

    def met(self, value: float | None, ratio: float | None) -> bool:
        """Whether `value` (None: not measured) and its `ratio` to the baseline meet it."""
        if value is None:
            return False
        if self.rate_min is not None and value < self.rate_min:
            return False
        if self.value_max is not None and value > self.value_max:
            return False
        return self.ratio_min is None or (ratio is not None and ratio >= self.ratio_min)


@dataclass(frozen=True)
class Spec:
    """A row: `server` is where it runs (`main`, `batch-off`, `two`, `usage`, a ceiling,
    `core`)."""

    name: str
    label: str
    server: str
    baseline: str | None = None  # a row name: for database rows the same database's row
    targets: tuple[tuple[str, Target], ...] = ()  # (database or "*", target)
    unit: str = "/s"
    elsewhere: tuple[tuple[str, str, str], ...] = ()  # (database, its baseline row, row's db)

    def targets_for(self, db: str) -> list[Target]:
        return [target for where, target in self.targets if where in ("*", db)]

    def baseline_of(self, db: str) -> tuple[str, str] | None:
        """(row, database) that this database's row is compared with."""
        for where, row, row_db in self.elsewhere:
            if where == db:
                return row, row_db
        return None if self.baseline is None else (self.baseline, db)

    def baselines(self) -> set[str]:
        """Every row some database's row is compared with."""
        return {row for _, row, _ in self.elsewhere} | ({self.baseline} if self.baseline else set())


def _both(*targets: Target) -> tuple[tuple[str, Target], ...]:
    return tuple(("*", target) for target in targets)


PAGE_FLAT_20, PAGE_FLAT_10 = _both(Target(20, ratio_min=FLAT)), _both(Target(10, ratio_min=FLAT))
SPECS = (
    Spec("ceiling-starlette", "framework ceiling: one-route Starlette app (drawdown's API "
         "runs on Starlette's router)", "ceiling-starlette"),
    Spec("ceiling-fastapi", "framework ceiling: one-route FastAPI app", "ceiling-fastapi",
         baseline="ceiling-starlette"),
    Spec("core-state", "core: build a one-block ledger state", "core"),
    Spec("core-decrement", "core: single-block decrement (`ledger.apply`, hash chain kept)",
         "core", baseline="core-state", targets=_both(Target(20, rate_min=100_000))),
    Spec("ping", "`GET /v1/ping` (authenticated)", "main", baseline="ceiling-starlette",
         targets=_both(Target(10, ratio_min=0.5))),
    Spec("ledger-small-first", "ledger, first page of 100 ({small} entries)", "main",
         baseline="ping", targets=((SQLITE, Target(20, rate_min=2_000)),
                                   (POSTGRES, Target(20, rate_min=1_000)))),
    Spec("ledger-small-middle", "ledger, cursor page from the middle ({small})", "main",
         baseline="ledger-small-first"),
    Spec("ledger-small-last", "ledger, last cursor page ({small})", "main",
         baseline="ledger-small-first"),
    Spec("credits-small", "`GET …/credits` ({small} entries)", "main", baseline="ping",
         targets=((SQLITE, Target(10, rate_min=4_000)), (POSTGRES, Target(20, rate_min=3_000)))),
    Spec("ledger-big-first", "ledger, first page of 100 ({big} entries)", "main",
         baseline="ledger-small-first", targets=PAGE_FLAT_20),
    Spec("ledger-big-middle", "ledger, cursor page from the middle ({big})", "main",
         baseline="ledger-small-middle", targets=PAGE_FLAT_20),
    Spec("ledger-big-last", "ledger, last cursor page ({big})", "main",
         baseline="ledger-small-last", targets=PAGE_FLAT_20),
    Spec("filter-entry_type-decrement", "ledger filter `entry_type=decrement` ({big})",
         "main", baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-entry_type-increment", "ledger filter `entry_type=increment` (1 match, "
         "{big})", "main", baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-entry_status-committed", "ledger filter `entry_status=committed` ({big})",
         "main", baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-entry_status-pending", "ledger filter `entry_status=pending` (no match, "
         "{big})", "main", baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-currency", "ledger filter `currency=credits` ({big})", "main",
         baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-minimum_amount", "ledger filter `minimum_amount=10` (1 in 10 match, {big})",
         "main", baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-created_at-gte", "ledger filter `created_at[gte]` = middle ({big})", "main",
         baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("filter-created_at-lt", "ledger filter `created_at[lt]` = middle ({big})", "main",
         baseline="ledger-small-first", targets=PAGE_FLAT_10),
    Spec("credits-big", "`GET …/credits` ({big} entries)", "main", baseline="credits-small",
         targets=(("*", Target(10, ratio_min=FLAT)), (SQLITE, Target(10, rate_min=4_000)),
                  (POSTGRES, Target(20, rate_min=3_000)))),
    Spec("decrement-spread", "decrement, random customer of {customers}", "main",
         baseline="ping", elsewhere=((POSTGRES, "decrement-spread", SQLITE),),
         targets=((SQLITE, Target(20, rate_min=3_000, ratio_min=0.25)),
                  (POSTGRES, Target(20, rate_min=1_500, ratio_min=0.6)))),
    Spec("decrement-hot", "decrement, one hot customer ({small} entries at start)", "main",
         baseline="decrement-spread", targets=((SQLITE, Target(20, ratio_min=0.8)),
                                               (POSTGRES, Target(10, ratio_min=0.5)))),
    Spec("decrement-big", "decrement, one customer with {big} entries", "main",
         baseline="decrement-hot", targets=_both(Target(10, ratio_min=FLAT))),
    Spec("rss-big", "server RSS after the {big}-entry rows (largest process)", "main",
         targets=_both(Target(20, value_max=200)), unit=" MiB"),
    Spec("increment-spread", "increment, random customer of {customers}", "main",
         baseline="ping"),
    Spec("decrement-blocks-10", "decrement, one customer with 10 open blocks", "main",
         baseline="decrement-hot"),
    Spec("decrement-blocks-10k", "decrement, one customer with {blocks} open blocks", "main",
         baseline="decrement-blocks-10", targets=_both(Target(23, ratio_min=FLAT))),
    Spec("decrement-spread-beside-10", "decrement spread while the 10-block customer is "
         "decremented on {beside} more connections", "main", baseline="decrement-spread"),
    Spec("decrement-spread-beside-10k", "decrement spread while the {blocks}-block customer "
         "is decremented on {beside} more connections", "main",
         baseline="decrement-spread-beside-10", targets=_both(Target(23, ratio_min=FLAT))),
    Spec("ingest-500", "`POST /v1/ingest`, batches of 500 events over 50 customers", "main",
         baseline="decrement-spread", targets=((SQLITE, Target(15, rate_min=10_000)),),
         unit=" events/s"),
    Spec("ingest-500-wide", "`POST /v1/ingest`, batches of 500 events over {customers} "
         "customers", "main", baseline="ingest-500", unit=" events/s",
         targets=((SQLITE, Target(20, rate_min=40_000)),
                  (POSTGRES, Target(20, rate_min=20_000)))),
    Spec("usage-lag", "deduction lag, event accepted → credits drawn (p99; grace 0, "
         "ingesting 500-event batches over 50 customers on 2 connections)", "usage",
         unit=" ms"),
    Spec("usage-lag-wide", "deduction lag, event accepted → credits drawn (p99; grace 0, "
         "ingesting 500-event batches over {customers} customers on 2 connections)", "usage",
         unit=" ms", targets=_both(Target(20, value_max=250))),
    Spec("usage-amend", "`PUT /v1/events/{{id}}`: amend a deducted event (the ledger corrected "
         "by the difference), random event of 1,000 over 50 customers", "usage",
         baseline="decrement-spread"),
    Spec("backfill-close-10k", "close a backfill of 10,000 events replacing 10,000 deducted "
         "ones (one customer; time of the request)", "usage", unit=" ms"),
    Spec("decrement-spread-batch-off", "decrement spread, group commit off "
         "(`DRAWDOWN_COMMIT_BATCH_MAX=1`)", "batch-off", baseline="decrement-spread"),
    Spec("ping-2p", "`GET /v1/ping`, 2 processes", "two", baseline="ping"),
    Spec("decrement-spread-2p", "decrement spread, 2 processes", "two",
         baseline="decrement-spread",
         targets=((SQLITE, Target(10, rate_min=5_000)),
                  (POSTGRES, Target(20, rate_min=2_500)), (POSTGRES, Target(10, ratio_min=1.7)))),
    Spec("decrement-hot-2p", "decrement hot, 2 processes", "two", baseline="decrement-hot",
         targets=((POSTGRES, Target(20, rate_min=1_000)),)),
    Spec("ledger-small-first-2p", "ledger first page ({small}), 2 processes", "two",
         baseline="ledger-small-first"),
    Spec("credits-small-2p", "`GET …/credits` ({small}), 2 processes", "two",
         baseline="credits-small"),
)  # fmt: skip
BY_NAME = {spec.name: spec for spec in SPECS}
GLOBAL_SERVERS = ("ceiling-starlette", "ceiling-fastapi", "core")  # not per database


def database_rows(processes: Iterable[int]) -> list[Spec]:
    wanted = {"main", "batch-off", "usage"} | ({"two"} if 2 in processes else set())
    return [spec for spec in SPECS if spec.server in wanted]


def select(patterns: Iterable[str] | None) -> set[str]:
    """Row names matching `patterns` (all rows if none), with their baselines."""
    patterns = list(patterns or ["*"])
    chosen = {s.name for s in SPECS if any(fnmatch.fnmatchcase(s.name, p) for p in patterns)}
    if not chosen:
        raise SystemExit(f"--only {' '.join(patterns)} names no row; rows: "
                         + ", ".join(BY_NAME))  # fmt: skip
    todo = list(chosen)
    while todo:
        for baseline in BY_NAME[todo.pop()].baselines() - chosen:
            chosen.add(baseline)
            todo.append(baseline)
    return chosen
