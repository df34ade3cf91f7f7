"""The run's table (markdown), its verdicts on the targets, its facts, and `--record`."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import servers, wrk
from benchmarks.model import Result, Run
from benchmarks.rows import IN_PROCESS, Target

DOC = servers.REPO / "docs" / "benchmarks.md"
HEADER = ("| row | what | db | proc. | result | p50 | p99 | errors | vs | ratio | target | |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def ratio(run: Run, result: Result) -> float | None:
    """The row's figure over its baseline's, both from this run (None if either is missing)."""
    baseline = run.baseline(result)
    if result.value is None or baseline is None or not baseline.value:
        return None
    return result.value / baseline.value


@dataclass(frozen=True)
class Verdict:
    """One target of one measured row, and whether the row meets it."""

    result: Result
    target: Target
    met: bool


def verdicts(run: Run, result: Result) -> list[Verdict]:
    """The row's database's targets, judged on its figure and its ratio; a row that could
    not be measured meets none."""
    value = None if result.problem is not None else result.value
    quotient = ratio(run, result)
    return [Verdict(result, t, t.met(value, quotient)) for t in result.spec.targets_for(result.db)]


def table(run: Run) -> str:
    return "\n".join([HEADER, *(_line(run, r) for r in run.results)])


def _line(run: Run, r: Result) -> str:
    spec = r.spec
    value = ratio(run, r)
    judged = verdicts(run, r)
    if r.problem is not None:
        shown = "error: " + r.problem.replace("|", "/").replace("\n", " ")
    else:
        shown = _figure(r.value, spec.unit)
        if r.requests == 0:  # wrk counts completed requests only
            shown = f"none completed in {run.options.load.seconds} s"
    met = ""
    if judged:
        met = "met" if all(v.met for v in judged) else "**not met**"
    cells = [
        f"`{spec.name}`", r.label, r.db, "" if r.processes is None else str(r.processes), shown,
        _ms(r.p50_ms if r.requests else None), _ms(r.p99_ms if r.requests else None),
        "" if r.p50_ms is None else str(r.errors), _vs(r),
        f"{value:.2f}×" if value is not None else "",
        "; ".join(f"{v.target.describe(spec.unit)} (#{v.target.issue})" for v in judged), met,
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def _vs(r: Result) -> str:
    where = r.spec.baseline_of(r.db)
    if where is None:
        return ""
    row, db = where
    return f"`{row}`" + (f" ({db})" if db != r.db else "")


def summary(run: Run) -> list[str]:
    """Per issue, how many of its targets this run met, and which rows missed theirs."""
    by_issue: dict[int, list[Verdict]] = {}
    for result in run.results:
        for verdict in verdicts(run, result):
            by_issue.setdefault(verdict.target.issue, []).append(verdict)
    lines = []
    for issue in sorted(by_issue, key=lambda n: (n not in (20, 23), n)):
        judged = by_issue[issue]
        missed = list(dict.fromkeys(_where(v.result) for v in judged if not v.met))
        line = f"targets of issue {issue}: {sum(v.met for v in judged)} of {len(judged)} met"
        lines.append(line + (f"; not met: {', '.join(missed)}" if missed else ""))
    return lines


def _where(r: Result) -> str:
    return f"`{r.spec.name}`" + ("" if r.db == IN_PROCESS else f" ({r.db})")


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}{unit}" if value < 10 else f"{value:,.0f}{unit}"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def failed(run: Run) -> list[Result]:
    return [r for r in run.results if r.problem is not None or r.errors]


# --- facts for the record ----------------------------------------------------------------


def facts(run: Run, load_before: tuple[float, float, float]) -> list[str]:
    o = run.options
    versions = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    if o.postgres_url:
        try:
            versions.append(servers.postgres_facts(o.postgres_url))
        except Exception as error:  # the table still prints when the server is unreachable
            versions.append(f"PostgreSQL (not reachable: {str(error)[:120]})")
    versions.append(wrk.version())
    after = os.getloadavg()
    return [
        f"commit `{_git('rev-parse', '--short', 'HEAD')}`{_dirty()} (branch "
        f"`{_git('rev-parse', '--abbrev-ref', 'HEAD')}`)",
        ", ".join(versions),
        f"{o.load.describe()} per row; ledgers of {o.big_entries:,} and {o.small_entries:,} "
        f"entries; {o.customers:,} funded customers; customers of 10 and {o.blocks:,} open "
        "blocks; SQLite synchronous=FULL",
        f"load average before / after the run: {_avg(load_before)} / {_avg(after)} "
        "(the machine is shared: other work runs beside the benchmark)",
        *run.notes,
    ]


def machine() -> str:
    model = _cpuinfo("model name") or platform.processor() or platform.machine()
    ram = _meminfo_gib()
    return f"{model}, {os.cpu_count()} cores, {ram:.0f} GiB RAM"


def _avg(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=servers.REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _dirty() -> str:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                          cwd=servers.REPO, capture_output=True, text=True)  # fmt: skip
    return " + uncommitted changes" if done.stdout.strip() else ""


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _meminfo_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def section(run: Run, load_before: tuple[float, float, float]) -> str:
    heading = f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}"
    lines = "\n".join(f"- {fact}" for fact in facts(run, load_before))
    verdict = "\n".join(f"- {line}" for line in summary(run))
    return f"{heading}\n\n{lines}\n\n{table(run)}\n" + (f"\n{verdict}\n" if verdict else "")


def record(text: str) -> None:
    """Append a run's section to docs/benchmarks.md, above the results of the old method."""
    doc = DOC.read_text()
    marker = "\n## Results of the old method"
    at = doc.find(marker)
    if at < 0:
        DOC.write_text(doc.rstrip("\n") + "\n\n" + text)
    else:
        DOC.write_text(doc[:at].rstrip("\n") + "\n\n" + text + doc[at:])


def as_json(run: Run) -> list[dict[str, Any]]:
    """Every row with its baseline, ratio and targets; `met` is None for a row without any."""
    rows = []
    for r in run.results:
        judged, baseline = verdicts(run, r), r.spec.baseline_of(r.db)
        rows.append({
            "row": r.spec.name, "db": r.db, "processes": r.processes, "value": r.value,
            "unit": r.spec.unit.strip(), "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
            "errors": r.errors, "problem": r.problem, "baseline": baseline and baseline[0],
            "baseline_db": baseline and baseline[1],
            "ratio": ratio(run, r),
            "targets": [{"issue": v.target.issue, "target": v.target.describe(r.spec.unit),
                         "met": v.met} for v in judged],
            "met": all(v.met for v in judged) if judged else None,
        })  # fmt: skip
    return rows


def write_json(run: Run, path: Path) -> None:
    path.write_text(json.dumps(as_json(run), indent=1))
