"""`./scripts/bench --compare A B`: two recorded runs of docs/benchmarks.md side by side.

A run is named by a part of its heading (e.g. `2026-12-02 17:21`) or by its position among
the recorded runs (`-1` the newest, `-2` the one before, `1` the oldest). Rows are matched
by row name, database and process count; the last column is B ÷ A for every figure that is
a rate or a size in both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^## (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC.*)$")
_NUMBER = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?)")


@dataclass(frozen=True)
class Recorded:
    heading: str
    rows: dict[tuple[str, str, str], str]  # (row, db, processes) -> result cell
    order: tuple[tuple[str, str, str], ...]


def runs(text: str) -> list[Recorded]:
    """Every recorded run of the document, oldest first."""
    found: list[Recorded] = []
    heading: str | None = None
    rows: dict[tuple[str, str, str], str] = {}
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match or line.startswith("## "):
            if heading is not None:
                found.append(Recorded(heading, rows, tuple(rows)))
            heading, rows = (match.group(1) if match else None), {}
            continue
        if heading is not None and line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[(cells[0].strip("`"), cells[2], cells[3])] = cells[4]
    if heading is not None:
        found.append(Recorded(heading, rows, tuple(rows)))
    return found


def pick(recorded: list[Recorded], name: str) -> Recorded:
    if re.fullmatch(r"-?[0-9]+", name):
        index = int(name)
        position = index - 1 if index > 0 else index
        if not -len(recorded) <= position < len(recorded) or index == 0:
            raise SystemExit(f"there are {len(recorded)} recorded runs; {name} names none")
        return recorded[position]
    matching = [run for run in recorded if name in run.heading]
    if len(matching) != 1:
        raise SystemExit(f"{len(matching)} recorded runs match {name!r}; name exactly one")
    return matching[0]


def _value(cell: str) -> float | None:
    match = _NUMBER.match(cell)
    return float(match.group(1).replace(",", "")) if match else None


def table(a: Recorded, b: Recorded) -> str:
    lines = [f"A: {a.heading}", f"B: {b.heading}", "",
             "| row | db | proc. | A | B | B ÷ A |", "|---|---|---|---|---|---|"]  # fmt: skip
    keys = list(a.order) + [key for key in b.order if key not in a.rows]
    for key in keys:
        left, right = a.rows.get(key, "—"), b.rows.get(key, "—")
        x, y = _value(left), _value(right)
        quotient = f"{y / x:.2f}×" if x and y is not None else ""
        lines.append(f"| `{key[0]}` | {key[1]} | {key[2]} | {left} | {right} | {quotient} |")
    return "\n".join(lines)


def compare(doc: Path, first: str, second: str) -> str:
    recorded = runs(doc.read_text())
    return table(pick(recorded, first), pick(recorded, second))
