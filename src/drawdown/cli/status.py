"""`drawdown status [--json]`: one screen on a database and the work around it.

What is shown is read by `services/status.py`; this module only lays it out, as aligned
lines for a person or as one JSON object for a script. It never migrates (pending
migrations are what it reports) and never creates a SQLite file that is not there.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer

from drawdown.cli.options import context, fail
from drawdown.ledger.dates import format_instant
from drawdown.records import Backlog, CommandRun, Expiries, ServingProcess
from drawdown.services import processes
from drawdown.services import status as service
from drawdown.settings import Settings

LABEL_WIDTH = 11


def status(
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of lines"),
) -> None:
    """The version, the database, its migrations, the serving processes, webhook deliveries
    waiting, usage not yet deducted, due expiries and the last `drawdown verify`."""
    missing = service.missing_sqlite_file(Settings.from_env().database_url)
    if missing is not None:
        raise fail(f"no SQLite database at {missing} (drawdown migrate or serve creates it)")
    report = service.status(context(migrate=False))
    typer.echo(json.dumps(_document(report), indent=2) if as_json else _screen(report))


def _at(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value, fractions=False)


def _document(s: service.Status) -> dict[str, Any]:
    work = s.work
    document: dict[str, Any] = {
        "version": s.version,
        "database": {"kind": s.kind.lower(), "location": s.location},
        "migrations": {"revision": s.revision, "pending": s.pending,
                       "newer_schema": s.newer_schema},
        "checked_at": _at(s.checked_at),
    }  # fmt: skip
    if work is None:
        return document | dict.fromkeys(("serving", "outbox", "usage", "expiries", "last_verify"))
    verify = work.last_verify
    return document | {
        "serving": [
            {"hostname": p.hostname, "pid": p.pid, "url": p.url, "version": p.version,
             "started_at": _at(p.started_at), "seen_at": _at(p.seen_at)}
            for p in work.serving
        ],
        "outbox": {"pending": work.outbox.waiting, "due": work.outbox.due,
                   "oldest_created_at": _at(work.outbox.oldest_at)},
        "usage": {"pending": work.usage.waiting, "due": work.usage.due,
                  "oldest_timestamp": _at(work.usage.oldest_at)},
        "expiries": {"due_ledgers": work.expiries.due_ledgers,
                     "oldest_due_at": _at(work.expiries.oldest_due_at)},
        "last_verify": None if verify is None else {
            "started_at": _at(verify.started_at), "finished_at": _at(verify.finished_at),
            "ok": verify.ok, "summary": verify.summary,
        },
    }  # fmt: skip


def _screen(s: service.Status) -> str:
    lines = [f"drawdown {s.version}", _line("database", f"{s.kind} {s.location}")]
    lines.append(_line("migrations", _migrations(s)))
    work = s.work
    if work is None:
        lines.append(_line("work", "not read until the schema is current"))
        return "\n".join(lines)
    lines.append(_line("serving", _serving_head(work.serving)))
    lines += [" " * (LABEL_WIDTH + 2) + _process(p, s.checked_at) for p in work.serving]
    lines.append(_line("outbox", _outbox(work.outbox)))
    lines.append(_line("usage", _usage(work.usage)))
    lines.append(_line("expiries", _expiries(work.expiries)))
    lines.append(_line("verify", _verify(work.last_verify)))
    return "\n".join(lines)


def _line(label: str, text: str) -> str:
    return f"{label:<{LABEL_WIDTH}}  {text}"


def _migrations(s: service.Status) -> str:
    if s.newer_schema:
        return f"revision {s.revision} is from a newer drawdown; run that version"
    if s.pending:
        at = "no schema yet" if s.revision is None else f"at revision {s.revision}"
        return (f"{len(s.pending)} pending ({', '.join(s.pending)}), {at}; "
                "`drawdown migrate` applies them")  # fmt: skip
    return f"current (revision {s.revision})"


def _serving_head(serving: list[ServingProcess]) -> str:
    if not serving:
        return f"no process seen in the last {processes.LIVE_SECONDS:.0f} s"
    return f"{len(serving)} process{'' if len(serving) == 1 else 'es'}"


def _process(p: ServingProcess, now: datetime) -> str:
    ago = max(0, round((now - p.seen_at).total_seconds()))
    return (f"{p.hostname} pid {p.pid}  {p.url}  drawdown {p.version}  since "
            f"{_at(p.started_at)}, seen {ago} s ago")  # fmt: skip


def _outbox(b: Backlog) -> str:
    if not b.waiting:
        return "no webhook delivery pending"
    return (f"{b.waiting} webhook deliver{'y' if b.waiting == 1 else 'ies'} pending "
            f"({b.due} due now), oldest event from {_at(b.oldest_at)}")  # fmt: skip


def _usage(b: Backlog) -> str:
    if not b.waiting:
        return "no usage event waiting for deduction"
    return (f"{b.waiting} event(s) waiting for deduction ({b.due} past the grace period), "
            f"oldest from {_at(b.oldest_at)}")  # fmt: skip


def _expiries(e: Expiries) -> str:
    if not e.due_ledgers:
        return "none due"
    return (f"{e.due_ledgers} ledger(s) with an expiry due and not yet written (oldest due "
            f"{_at(e.oldest_due_at)}); reads, writes and `drawdown expire` write them")  # fmt: skip


def _verify(run: CommandRun | None) -> str:
    if run is None:
        return "never run (`drawdown verify`)"
    outcome = "passed" if run.ok else "FAILED"
    return f"{outcome} at {_at(run.finished_at)}: {run.summary}"
