"""`drawdown status` and `--json` (issue 21) on SQLite and PostgreSQL: the version, the
database, migrations, the serving processes that registered (a stale one is not shown),
webhook deliveries pending, usage waiting (and past its grace period), due expiries not yet
written, and the last `drawdown verify`; a schema that is not current is reported, not
migrated, and the rest is not read.

The background work is made in process with a clock two hours behind, so that at the real
"now" of the command it is due, without sleeping."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command as alembic
from sqlalchemy import create_engine

from drawdown.cli import app
from drawdown.cli.options import run
from drawdown.ledger.dates import format_instant
from drawdown.services import balance_alerts, customers, processes
from drawdown.services import status as service
from drawdown.services import verify as verify_service
from drawdown.services.context import ServiceContext
from drawdown.services.credits import entries
from drawdown.services.entry_input import entry_request
from drawdown.services.usage import catalogue, ingest
from drawdown.services.webhooks import endpoints
from drawdown.services.write_path import CustomerRef
from drawdown.store.engine import describe_url, normalize_url
from drawdown.store.migrate import _script, alembic_config, head_revision
from support.contexts import make_context


class Clock:
    def __init__(self, behind: timedelta) -> None:
        self.behind = behind

    def __call__(self) -> datetime:
        return datetime.now(UTC) - self.behind


@dataclass
class Made:
    ctx: ServiceContext
    clock: Clock
    url: str
    then: datetime  # when the due work was made (two hours ago)
    expiry: datetime  # the expiry due but not written


@pytest.fixture(params=["sqlite", "postgres"])
def made(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Made]:
    url = database_factory(request.param)
    clock = Clock(timedelta(hours=2))
    ctx = make_context(url, clock)
    then = clock()
    expiry, later = then + timedelta(hours=1), then + timedelta(days=30)
    customer = customers.create_customer({"name": "A", "email": "a@x.test",
                                          "external_customer_id": "acme-1"}).run(ctx)  # fmt: skip
    ref = CustomerRef(id=customer.id)
    for until in (expiry, later):  # credits: one block due to expire, one later
        fields = {"entry_type": "increment", "amount": Decimal(5), "expiry_date": until.isoformat()}
        entries.create_entry(ref, entry_request(fields)).run(ctx)
    # tokens: depleted, one webhook event for the one endpoint, never delivered (port 9)
    endpoints.add_endpoint(ctx, "http://127.0.0.1:9/hook", None, [])
    balance_alerts.create_alert(ref, balance_alerts.NewAlert("tokens", "credit_balance_depleted")
                                ).run(ctx)  # fmt: skip
    entries.create_entry(ref, entry_request({"entry_type": "decrement", "amount": Decimal(1),
                                            "currency": "tokens"})).run(ctx)  # fmt: skip
    catalogue.add_item("api", "API calls").run(ctx)
    ingest.ingest(ctx, [_event("old", then)])
    clock.behind = timedelta(0)
    ingest.ingest(ctx, [_event("new", clock())])
    yield Made(ctx, clock, url, then, expiry)
    ctx.db.close()


def _event(key: str, at: datetime) -> dict[str, Any]:
    return {"idempotency_key": key, "event_name": "api_call", "timestamp": at.isoformat(),
            "properties": {}, "external_customer_id": "acme-1"}  # fmt: skip


def _status(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str,
            *args: str) -> str:  # fmt: skip
    monkeypatch.setenv("DRAWDOWN_DATABASE_URL", url)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run(app, ["status", *args])
    out, err = capsys.readouterr()
    assert exited.value.code == 0 and err == "", err
    return out


def _at(value: datetime) -> str:
    return format_instant(value, fractions=False)


def _live_and_stale_processes(made: Made) -> None:
    stale = processes.Presence(made.ctx, "http://127.0.0.1:1", "0.0.1")
    made.clock.behind = timedelta(minutes=5)
    stale.beat()  # a process killed five minutes ago: registered, never renewed since
    made.clock.behind = timedelta(0)
    processes.Presence(made.ctx, "http://127.0.0.1:8123", "9.9.9").beat()


def test_status_json(made: Made, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _live_and_stale_processes(made)
    report = verify_service.verify(made.ctx)
    verify_service.record(made.ctx, report, None, made.clock())
    document = json.loads(_status(monkeypatch, capsys, made.url, "--json"))
    kind = "sqlite" if made.url.startswith("sqlite") else "postgresql"
    assert document["version"] == service.version()
    assert document["database"] == {"kind": kind, "location": describe_url(made.url)}
    assert document["migrations"] == {"revision": head_revision(), "pending": [],
                                      "newer_schema": False}  # fmt: skip
    [serving] = document["serving"]  # the stale one is left out
    assert serving["url"] == "http://127.0.0.1:8123" and serving["version"] == "9.9.9"
    assert serving["pid"] == os.getpid() and serving["seen_at"] >= serving["started_at"]
    assert document["outbox"]["pending"] == 1 and document["outbox"]["due"] == 1
    assert document["outbox"]["oldest_created_at"] <= _at(made.then + timedelta(seconds=5))
    assert document["usage"] == {"pending": 2, "due": 1, "oldest_timestamp": _at(made.then)}
    assert document["expiries"] == {"due_ledgers": 1, "oldest_due_at": _at(made.expiry)}
    verified = document["last_verify"]
    assert verified["ok"] is True and verified["summary"] == (
        "every ledger: 2 ledger(s), 3 entries, 3 commands: no mismatch"
    )
    assert set(document) == {"version", "database", "migrations", "checked_at", "serving",
                             "outbox", "usage", "expiries", "last_verify"}  # fmt: skip


def test_status_screen(made: Made, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _live_and_stale_processes(made)
    lines = _status(monkeypatch, capsys, made.url).splitlines()
    kind = "SQLite" if made.url.startswith("sqlite") else "PostgreSQL"
    assert lines[0] == f"drawdown {service.version()}"
    assert lines[1] == f"database     {kind} {describe_url(made.url)}"
    assert lines[2] == f"migrations   current (revision {head_revision()})"
    assert lines[3] == "serving      1 process"
    assert "pid" in lines[4] and "http://127.0.0.1:8123  drawdown 9.9.9  since " in lines[4]
    assert lines[5].startswith("outbox       1 webhook delivery pending (1 due now), oldest "
                               "event from ")  # fmt: skip
    assert lines[6] == ("usage        2 event(s) waiting for deduction (1 past the grace "
                        f"period), oldest from {_at(made.then)}")  # fmt: skip
    assert lines[7] == ("expiries     1 ledger(s) with an expiry due and not yet written "
                        f"(oldest due {_at(made.expiry)}); reads, writes and `drawdown expire` "
                        "write them")  # fmt: skip
    assert lines[8] == "verify       never run (`drawdown verify`)"
    assert len(lines) == 9


def test_written_expiries_and_a_failed_verify(
    made: Made, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli_expire(monkeypatch, capsys, made.url)  # writes the due expiry
    report = verify_service.Report(ledgers=1, mismatches=[
        verify_service.Mismatch("c1", "credits", "stored balance 6, replayed 5")])  # fmt: skip
    verify_service.record(made.ctx, report, "c1", made.clock())
    lines = _status(monkeypatch, capsys, made.url).splitlines()
    assert lines[-2] == "expiries     none due", lines
    assert lines[-1].startswith("verify       FAILED at ")
    assert lines[-1].endswith(": the ledgers of customer c1: 1 mismatch(es), first: customer "
                              "c1 ledger credits: stored balance 6, replayed 5")  # fmt: skip


def run_cli_expire(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                   url: str) -> None:  # fmt: skip
    monkeypatch.setenv("DRAWDOWN_DATABASE_URL", url)
    with pytest.raises(SystemExit) as exited:
        run(app, ["expire"])
    assert exited.value.code == 0, capsys.readouterr()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_pending_migrations_are_reported_not_applied(
    backend: str, database_factory: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = database_factory(backend)
    before = _script().get_revision(head_revision()).down_revision
    assert isinstance(before, str)
    engine = create_engine(normalize_url(url))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        alembic.upgrade(config, before)
    engine.dispose()
    document = json.loads(_status(monkeypatch, capsys, url, "--json"))
    assert document["migrations"] == {"revision": before, "pending": [head_revision()],
                                      "newer_schema": False}  # fmt: skip
    assert [document[k] for k in ("serving", "outbox", "usage", "expiries", "last_verify")] == [
        None] * 5  # fmt: skip
    lines = _status(monkeypatch, capsys, url).splitlines()
    assert lines[2] == (f"migrations   1 pending ({head_revision()}), at revision {before}; "
                        "`drawdown migrate` applies them")  # fmt: skip
    assert lines[3:] == ["work         not read until the schema is current"]
    again = json.loads(_status(monkeypatch, capsys, url, "--json"))
    assert again["migrations"]["pending"] == [head_revision()]  # still: status never migrates


def test_the_database_is_named_without_its_password() -> None:
    assert describe_url("postgresql://ops:s3cret@db.internal:6432/ledger") == (
        "ops@db.internal:6432/ledger"
    )
    assert describe_url("postgresql://db.internal/ledger") == "db.internal:5432/ledger"
    assert describe_url("sqlite:////srv/drawdown.db") == "/srv/drawdown.db"
    assert describe_url("sqlite://") == "memory"


def test_a_presence_registers_renews_and_leaves(made: Made) -> None:
    presence = processes.Presence(made.ctx, "http://127.0.0.1:8124", "9.9.9")
    presence.start()  # registers from its thread at once
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while not (work := service.status(made.ctx).work) or not work.serving:
        assert datetime.now(UTC) < deadline, "the presence never registered"
        time.sleep(0.05)
    assert [p.url for p in work.serving] == ["http://127.0.0.1:8124"]
    presence.stop()
    after = service.status(made.ctx).work
    assert after is not None and after.serving == []
