"""`drawdown verify [--customer ID] [--anchor FILE]`: recompute every hash chain, replay every
ledger, and with an anchor prove that no ledger went back before the heads it recorded.

The checks are in `services/verify.py`, the anchor file in `services/anchors.py`. Progress
goes to stderr, the summary to stdout; the exit status is 1 when anything does not match,
and the first mismatch is named. An anchor is read before anything is verified and, when
nothing mismatched, rewritten with the heads just verified (`--no-record` leaves it as it
is): run it on a schedule and keep the file (or its printed SHA-256) off the machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from drawdown.cli.options import context
from drawdown.services import anchors
from drawdown.services import verify as service

PROGRESS_SECONDS = 2.0


def verify(
    customer: str = typer.Option(None, help="Verify only this customer's ledgers (by id)"),
    anchor: str = typer.Option(
        None, metavar="FILE",
        help="Check that no ledger went back before the heads recorded in FILE (if it "
        "exists), then record the verified heads there",
    ),
    record: bool = typer.Option(
        True, "--record/--no-record", help="With --anchor: rewrite FILE when all is clean"
    ),
) -> None:  # fmt: skip
    """Recompute every ledger's hash chain, replay its commands and check cash balances;
    exit 1 on a mismatch."""
    # A damaged anchor is refused before anything is read (an `error:` line, options.run).
    earlier = anchors.read(anchor) if anchor and Path(anchor).exists() else None
    ctx = context()
    started = last = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS or done == total:
            print(f"verified {done}/{total} ledgers", file=sys.stderr, flush=True)
            last = now

    started_at = ctx.now()
    report = service.verify(ctx, customer, progress, earlier)
    recorded_at = ctx.now()
    service.record(ctx, report, customer, started_at)
    seconds = time.monotonic() - started
    typer.echo(
        f"{report.ledgers} ledger(s), {report.entries} entries, {report.commands} commands "
        f"checked in {seconds:.1f} s: {len(report.mismatches)} mismatch(es)"
    )
    if earlier is not None:
        typer.echo(f"anchor: {len(earlier)} anchored ledger head(s) checked from {anchor}")
    for rewritten in report.rewritten:
        typer.echo(f"  rewritten since the anchor by credit block deletions: {rewritten}")
    if report.clean:
        typer.echo("ok: every chain recomputes and every replay matches")
        if anchor and record:
            heads = anchors.merged(earlier, report.heads, customer)
            digest = anchors.write(anchor, heads, recorded_at)
            typer.echo(f"anchor: {len(heads)} ledger head(s) recorded in {anchor} "
                       f"(sha256 {digest})")  # fmt: skip
        return
    for mismatch in report.mismatches[:20]:
        typer.echo(f"  {mismatch}")
    typer.echo(f"error: first mismatch: {report.mismatches[0]}", err=True)
    raise typer.Exit(1)
