"""`./scripts/bench [--quick] [--postgres URL] [--only NAME ...] [--record]`
`./scripts/bench --compare A B` (two recorded runs side by side; nothing is measured)

Starts real `drawdown serve` processes on fresh, seeded databases, drives them with wrk,
and prints one markdown table: every figure, its baseline from the same run, the ratio and
its targets (issue 20's, issue 23's, and earlier issues' that no later one restated) with
met / not met, then per issue how many targets the run met. Progress goes to stderr, the
table to stdout. Exit status 1 if a row could not be measured or wrk saw errors (a target
not met does not change it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmarks import compare, model, report, rows, servers, suite, wrk


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--quick",
        action="store_true",
        help="2 s per row and a 100k-entry big ledger (unless --seconds/--entries say otherwise)",
    )
    add(
        "--postgres",
        metavar="URL",
        default=os.environ.get("DRAWDOWN_BENCH_POSTGRES_URL"),
        help="also benchmark PostgreSQL; a throwaway database is created per server on this "
        "server and dropped afterwards [env DRAWDOWN_BENCH_POSTGRES_URL]",
    )
    add(
        "--only",
        nargs="+",
        metavar="NAME",
        help="measure only these rows (shell patterns, e.g. 'ledger-*'), plus their baselines",
    )
    add(
        "--record",
        action="store_true",
        help="append the run (facts, table, targets met per issue) to docs/benchmarks.md",
    )
    add("--seconds", type=int, help="wrk duration per row [8; 2 with --quick]")
    add("--threads", type=int, default=2, help="wrk threads [2]")
    add("--connections", type=int, default=32, help="wrk connections [32]")
    add("--entries", type=int, help="entries of the big ledger [1,000,000; 100,000 with --quick]")
    add("--small-entries", type=int, default=1000, help="entries of the small ledgers [1000]")
    add(
        "--customers",
        type=int,
        default=1000,
        help="customers decrements, wide ingestion and its lag spread over [1000]",
    )
    add(
        "--blocks",
        type=int,
        default=10_000,
        help="open blocks of the many-block customer (`decrement-blocks-10k`) [10,000, the "
        "most a ledger may hold]",
    )
    add(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 2],
        choices=[1, 2],
        help="server process counts to run [1 2]",
    )
    add(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the rows as JSON, each with its baseline, ratio, targets and verdicts",
    )
    add(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="print two runs recorded in docs/benchmarks.md side by side (a part of the "
        "heading, e.g. '2026-12-02 17:21', or a position: -1 the newest) and exit",
    )
    return parser.parse_args(argv)


def options(args: argparse.Namespace) -> model.Options:
    seconds = args.seconds or (2 if args.quick else 8)
    entries = args.entries or (100_000 if args.quick else 1_000_000)
    if min(entries, args.small_entries) < 2 * model.PAGE + 2:
        raise SystemExit(f"ledgers need at least {2 * model.PAGE + 2} entries (two pages)")
    if not 10 < args.blocks <= 10_000:
        raise SystemExit("--blocks must be more than 10 and at most 10,000")
    return model.Options(
        load=wrk.Load(args.threads, args.connections, seconds),
        big_entries=entries,
        small_entries=args.small_entries,
        customers=args.customers,
        blocks=args.blocks,
        core_seconds=max(0.2, seconds / 4),
        postgres_url=args.postgres,
        processes=frozenset(args.processes),
        selected=frozenset(rows.select(args.only)),
    )


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.compare:
        print(compare.compare(report.DOC, *args.compare))
        return 0
    if wrk.path() is None:
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    with suite.scratch_directory() as scratch:
        run = model.Run(options(args), scratch)
        try:
            suite.execute(run)
        finally:
            text = report.section(run, load_before)
            print(text)
            if args.json is not None:
                report.write_json(run, args.json)
    if args.record:
        report.record(text)
        model.progress(f"recorded in {report.DOC.relative_to(servers.REPO)}")
    bad = report.failed(run)
    for result in bad:
        model.progress(f"not measured cleanly: {result.db} {result.spec.name} "
                       f"({result.problem or f'{result.errors} wrk errors'})")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
