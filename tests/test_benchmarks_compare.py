"""`./scripts/bench --compare`: two recorded runs side by side, matched row by row."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is a top-level package of the repository, not part of the installed wheel.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import compare

DOC = """# Benchmarks

## Method

| `not-a-run` | x | SQLite | 1 | 5/s |

## 2026-12-01 10:00 UTC — a machine

| row | what | db | proc. | result | p50 |
|---|---|---|---|---|---|
| `ping` | ping | SQLite | 1 | 10,000/s | 1 ms |
| `decrement-spread` | decrement | PostgreSQL | 2 | 500/s | 9 ms |

## 2026-12-02 11:00 UTC — a machine

| row | what | db | proc. | result | p50 |
|---|---|---|---|---|---|
| `ping` | ping | SQLite | 1 | 12,500/s | 1 ms |
| `decrement-spread` | decrement | PostgreSQL | 2 | 2,000/s | 3 ms |
| `rss-big` | rss | SQLite | 1 | 120 MiB | |
"""


def test_compare_matches_rows_and_divides(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    table = compare.compare(doc, "2026-12-01", "-1").splitlines()
    assert table[0] == "A: 2026-12-01 10:00 UTC — a machine"
    assert "| `ping` | SQLite | 1 | 10,000/s | 12,500/s | 1.25× |" in table
    assert "| `decrement-spread` | PostgreSQL | 2 | 500/s | 2,000/s | 4.00× |" in table
    assert "| `rss-big` | SQLite | 1 | — | 120 MiB |  |" in table
    assert not any("not-a-run" in line for line in table)


def test_compare_refuses_a_name_that_matches_no_single_run(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    for name in ("2026-12", "3", "0"):
        with pytest.raises(SystemExit):
            compare.compare(doc, name, "-1")
