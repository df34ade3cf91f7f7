"""The benchmark's report (benchmarks/report.py): ratios within a run, verdicts on the
targets, the table line, the per-issue summary and the JSON record."""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ is a top-level package of the repository, not part of the installed wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import report, wrk
from benchmarks.model import Options, Result, Run
from benchmarks.rows import BY_NAME, IN_PROCESS, POSTGRES, SQLITE


def _run(tmp_path: Path, *figures: tuple[str, str, float | None]) -> Run:
    options = Options(load=wrk.Load(2, 32, 8), big_entries=1_000_000, small_entries=1_000,
                      customers=1_000, blocks=10_000, core_seconds=2.0, postgres_url=None,
                      processes=frozenset({1}), selected=frozenset(BY_NAME))  # fmt: skip
    run = Run(options, tmp_path)
    for db, name, value in figures:
        result = run.add(BY_NAME[name], db, 1)
        result.value, result.requests, result.p50_ms, result.p99_ms = value, 100, 2.0, 9.5
    return run


def _result(run: Run, db: str, name: str) -> Result:
    found = run.find(db, name)
    assert found is not None
    return found


def test_ratios_divide_by_the_baseline_of_the_same_run(tmp_path: Path) -> None:
    run = _run(tmp_path, (SQLITE, "ping", 10_000.0), (SQLITE, "decrement-spread", 2_500.0),
               (POSTGRES, "ping", 8_000.0), (POSTGRES, "decrement-spread", 1_600.0))  # fmt: skip
    assert report.ratio(run, _result(run, SQLITE, "decrement-spread")) == 0.25
    # PostgreSQL's decrements are compared with SQLite's, not with its own ping.
    assert report.ratio(run, _result(run, POSTGRES, "decrement-spread")) == 0.64
    assert report.ratio(run, _result(run, SQLITE, "ping")) is None  # no ceiling measured


def test_a_row_meets_its_target_only_when_figure_and_ratio_do(tmp_path: Path) -> None:
    run = _run(tmp_path, (SQLITE, "ping", 10_000.0), (SQLITE, "decrement-spread", 3_000.0),
               (POSTGRES, "decrement-spread", 1_700.0))  # fmt: skip
    [sqlite] = report.verdicts(run, _result(run, SQLITE, "decrement-spread"))
    [postgres] = report.verdicts(run, _result(run, POSTGRES, "decrement-spread"))
    assert (sqlite.met, sqlite.target.issue) == (True, 20)
    assert postgres.met is False  # 1,700/s, but 0.57× SQLite's (target ≥ 0.6×)


def test_a_row_that_could_not_be_measured_meets_no_target(tmp_path: Path) -> None:
    run = _run(tmp_path, (SQLITE, "rss-big", 120.0))
    result = _result(run, SQLITE, "rss-big")
    assert [v.met for v in report.verdicts(run, result)] == [True]
    result.problem = "server did not start"
    assert [v.met for v in report.verdicts(run, result)] == [False]


def test_the_table_line_names_the_baseline_its_database_and_each_targets_issue(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path, (SQLITE, "decrement-spread", 2_000.0),
               (POSTGRES, "decrement-spread", 1_600.0), (SQLITE, "credits-small", 4_100.0),
               (SQLITE, "credits-big", 3_900.0))  # fmt: skip
    lines = report.table(run).splitlines()
    assert lines[3] == (
        "| `decrement-spread` | decrement, random customer of 1,000 | PostgreSQL | 1 | 1,600/s "
        "| 2.0 ms | 9.5 ms | 0 | `decrement-spread` (SQLite) | 0.80× | ≥ 1,500/s, ≥ 0.6× (#20) "
        "| met |"
    )
    assert lines[5].endswith(
        "| `credits-small` | 0.95× | cost ≤ 1.2× (#10); ≥ 4,000/s (#10) | **not met** |"
    )


def test_the_summary_counts_each_issues_targets_and_names_the_rows_that_missed(
    tmp_path: Path,
) -> None:
    run = _run(
        tmp_path,
        (SQLITE, "decrement-blocks-10", 500.0),
        (SQLITE, "decrement-blocks-10k", 450.0),
        (SQLITE, "ping", 6_000.0),
        (SQLITE, "decrement-spread", 1_000.0),
        (SQLITE, "decrement-hot", 900.0),
        (SQLITE, "ingest-500", 12_000.0),
        (IN_PROCESS, "core-decrement", 90_000.0),
    )
    assert report.summary(run) == [
        "targets of issue 20: 1 of 3 met; not met: `decrement-spread` (SQLite), `core-decrement`",
        "targets of issue 23: 1 of 1 met",
        "targets of issue 10: 0 of 1 met; not met: `ping` (SQLite)",  # no ceiling measured
        "targets of issue 15: 1 of 1 met",
    ]


def test_the_json_record_carries_baseline_ratio_targets_and_verdict(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        (SQLITE, "decrement-spread", 2_000.0),
        (POSTGRES, "decrement-spread", 1_600.0),
        (SQLITE, "increment-spread", 900.0),
    )
    postgres, increments = report.as_json(run)[1:]
    assert postgres == {
        "row": "decrement-spread", "db": POSTGRES, "processes": 1, "value": 1_600.0,
        "unit": "/s", "p50_ms": 2.0, "p99_ms": 9.5, "errors": 0, "problem": None,
        "baseline": "decrement-spread", "baseline_db": SQLITE, "ratio": 0.8,
        "targets": [{"issue": 20, "target": "≥ 1,500/s, ≥ 0.6×", "met": True}], "met": True,
    }  # fmt: skip
    assert (increments["targets"], increments["met"], increments["ratio"]) == ([], None, None)
