"""The benchmark's rows and targets (benchmarks/rows.py): how a target judges a figure, which
baseline a row is compared with, and what `--only` selects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is a top-level package of the repository, not part of the installed wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import rows
from benchmarks.rows import FLAT, POSTGRES, SQLITE, Target


def test_a_rate_and_ratio_target_needs_both() -> None:
    target = Target(20, rate_min=3_000, ratio_min=0.25)
    assert target.met(3_000.0, 0.25)
    assert not target.met(2_999.9, 0.5)
    assert not target.met(4_000.0, 0.24)
    assert not target.met(4_000.0, None)  # no baseline measured: the ratio is unknown
    assert not target.met(None, 1.0)  # the row was not measured


def test_a_ceiling_target_bounds_the_figure_from_above() -> None:
    target = Target(20, value_max=250)
    assert target.met(250.0, None) and not target.met(250.1, None)


def test_cost_at_most_one_point_two_times_is_a_throughput_ratio_of_one_over_one_point_two() -> None:
    target = Target(23, ratio_min=FLAT)
    assert target.met(100.0, 1 / 1.2) and target.met(1.0, 0.834)
    assert not target.met(100.0, 0.833)


def test_targets_describe_themselves_in_the_rows_unit() -> None:
    assert Target(20, rate_min=3_000, ratio_min=0.25).describe("/s") == "≥ 3,000/s, ≥ 0.25×"
    assert Target(20, rate_min=40_000).describe(" events/s") == "≥ 40,000 events/s"
    assert Target(20, value_max=250).describe(" ms") == "≤ 250 ms"
    assert Target(23, ratio_min=FLAT).describe("/s") == "cost ≤ 1.2×"


def test_issue_20_targets_are_on_the_rows_that_show_them() -> None:
    def targets(name: str, db: str) -> list[tuple[int, float | None, float | None, float | None]]:
        return [(t.issue, t.rate_min, t.ratio_min, t.value_max)
                for t in rows.BY_NAME[name].targets_for(db)]  # fmt: skip

    assert targets("decrement-spread", SQLITE) == [(20, 3_000, 0.25, None)]
    assert targets("decrement-spread", POSTGRES) == [(20, 1_500, 0.6, None)]
    assert targets("decrement-hot", SQLITE) == [(20, None, 0.8, None)]
    assert targets("credits-small", POSTGRES) == [(20, 3_000, None, None)]
    assert targets("ledger-small-first", SQLITE) == [(20, 2_000, None, None)]
    assert targets("ledger-small-first", POSTGRES) == [(20, 1_000, None, None)]
    assert targets("decrement-spread-2p", POSTGRES)[0] == (20, 2_500, None, None)
    assert targets("decrement-hot-2p", POSTGRES) == [(20, 1_000, None, None)]
    assert targets("decrement-hot-2p", SQLITE) == []
    for where in ("first", "middle", "last"):
        assert targets(f"ledger-big-{where}", SQLITE) == [(20, None, FLAT, None)]
    assert targets("ingest-500-wide", SQLITE) == [(20, 40_000, None, None)]
    assert targets("ingest-500-wide", POSTGRES) == [(20, 20_000, None, None)]
    assert targets("usage-lag-wide", POSTGRES) == [(20, None, None, 250)]
    assert targets("core-decrement", rows.IN_PROCESS) == [(20, 100_000, None, None)]
    assert targets("rss-big", SQLITE) == [(20, None, None, 200)]
    assert targets("decrement-blocks-10k", POSTGRES) == [(23, None, FLAT, None)]
    assert targets("decrement-spread-beside-10k", SQLITE) == [(23, None, FLAT, None)]


def test_a_row_is_compared_with_its_own_database_unless_it_names_another() -> None:
    spread = rows.BY_NAME["decrement-spread"]
    assert spread.baseline_of(SQLITE) == ("ping", SQLITE)
    assert spread.baseline_of(POSTGRES) == ("decrement-spread", SQLITE)
    assert rows.BY_NAME["ledger-big-middle"].baseline_of(POSTGRES) == (
        "ledger-small-middle", POSTGRES)  # fmt: skip
    assert rows.BY_NAME["rss-big"].baseline_of(SQLITE) is None


def test_every_baseline_names_a_row() -> None:
    for spec in rows.SPECS:
        assert spec.baselines() <= set(rows.BY_NAME), spec.name


def test_only_selects_the_rows_and_their_baselines_transitively() -> None:
    assert rows.select(["decrement-blocks-10k"]) == {
        "decrement-blocks-10k", "decrement-blocks-10", "decrement-hot", "decrement-spread",
        "ping", "ceiling-starlette",
    }  # fmt: skip
    assert rows.select(["usage-lag*"]) == {"usage-lag", "usage-lag-wide"}
    assert rows.select(None) == set(rows.BY_NAME)


def test_only_refuses_a_pattern_that_names_no_row() -> None:
    with pytest.raises(SystemExit):
        rows.select(["no-such-row"])
