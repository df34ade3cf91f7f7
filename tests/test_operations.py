"""What an operator sees of a running server (issue 13): /health, /ready, /metrics, request
ids, access and error logs; backups that restore to identical balances; ledger export;
the admin and key commands."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orb
import pytest
from sqlalchemy import text

from conftest import REPO, Server, _wait_until_up, free_port, run_cli, start_server, stop_server
from support.postgres import create_database

pytestmark = pytest.mark.slow


def start_logged_server(
    url: str, log: Path, env: dict[str, str] | None = None, *args: str
) -> Server:
    """A server whose stderr (its log) goes to `log`."""
    key = run_cli(url, "keys", "create", "--name", "ops").strip().splitlines()[-1]
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "drawdown.cli", "serve", "--port", str(port), *args],
            env={**os.environ, "DRAWDOWN_DATABASE_URL": url, **(env or {})}, cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(base_url, process)
    except RuntimeError:
        process.kill()
        raise RuntimeError(log.read_text()) from None
    return Server(base_url=base_url, api_key=key, database_url=url, process=process)


def root(server: Server) -> str:
    return server.base_url.removesuffix("/v1")


# --- health, readiness, request ids, metrics --------------------------------------------


def test_health_and_ready_need_no_key(server: Server) -> None:
    health = httpx.get(root(server) + "/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = httpx.get(root(server) + "/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "migrations": "current",
                            "writes": "ok", "clock": "ok"}  # fmt: skip


def test_request_ids(server: Server) -> None:
    with server.http() as http:
        given = http.get("/ping", headers={"X-Request-Id": "lb-7f3a:42"})
        assert given.headers["x-request-id"] == "lb-7f3a:42"
        for bad in ("has space", "x" * 129, 'quote"d'):
            replaced = http.get("/ping", headers={"X-Request-Id": bad})
            assert replaced.headers["x-request-id"] not in (bad, "")
        ids = {http.get("/ping").headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3
    # Errors answered before routing (no key, unknown URL) carry one too.
    assert httpx.get(server.base_url + "/ping").headers["x-request-id"]
    assert httpx.get(root(server) + "/nowhere").headers["x-request-id"]


def _metric(body: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_entries_and_batches(server: Server, client: orb.Orb) -> None:
    before = httpx.get(root(server) + "/metrics").text
    customer = client.customers.create(name="M", email="m@example.com")
    client.customers.credits.ledger.create_entry(customer.id, entry_type="increment", amount=9)
    client.customers.credits.ledger.create_entry(customer.id, entry_type="decrement", amount=2)
    response = httpx.get(root(server) + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text
    route = "/v1/customers/{customer_id}/credits/ledger_entry"
    assert (
        _metric(after, "drawdown_http_requests_total", route=route, status="201")
        - _metric(before, "drawdown_http_requests_total", route=route, status="201")
        == 2
    )
    assert customer.id not in after, "labels are route templates, never ids"
    assert _metric(after, "drawdown_http_request_duration_seconds_count", route=route) >= 2
    for entry_type in ("increment", "decrement"):
        grew = _metric(after, "drawdown_ledger_entries_written_total", entry_type=entry_type) - (
            _metric(before, "drawdown_ledger_entries_written_total", entry_type=entry_type)
        )
        assert grew == 1, entry_type
    assert _metric(after, "drawdown_commit_batch_size_count") >= 3
    assert "drawdown_database_errors_total" in after


def test_ready_says_migrations_pending(database_factory: Any, tmp_path: Path) -> None:
    url = database_factory("sqlite")
    srv = start_logged_server(url, tmp_path / "log")
    try:
        with srv.engine.begin() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
        ready = httpx.get(root(srv) + "/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "not ready", "database": "ok", "migrations": "pending",
                                "writes": "ok", "clock": "ok"}  # fmt: skip
        with srv.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        assert httpx.get(root(srv) + "/ready").status_code == 200
    finally:
        stop_server(srv)


def test_workers_share_their_metrics(database_factory: Any, tmp_path: Path) -> None:
    srv = start_logged_server(database_factory("sqlite"), tmp_path / "log", None,
                              "--workers", "2")  # fmt: skip
    try:
        with srv.http() as http:
            for _ in range(30):
                assert http.get("/ping").status_code == 200
        # Whichever worker answers, the count is the sum over both.
        for _ in range(4):
            body = httpx.get(root(srv) + "/metrics").text
            assert _metric(body, "drawdown_http_requests_total", route="/v1/ping") == 30
    finally:
        stop_server(srv)


# --- logs ---------------------------------------------------------------------------------


def test_json_access_log_never_holds_key_or_body(database_factory: Any, tmp_path: Path) -> None:
    log = tmp_path / "log"
    srv = start_logged_server(database_factory("sqlite"), log, {"DRAWDOWN_LOG_FORMAT": "json"})
    try:
        with srv.http() as http:
            http.post("/customers", json={"name": "Secret Name", "email": "s@example.com"},
                      headers={"X-Request-Id": "req-json-1"})  # fmt: skip
            http.get("/customers/nope", headers={"X-Request-Id": "req-json-2"})
    finally:
        stop_server(srv)
    text_ = log.read_text()
    assert srv.api_key not in text_ and "Secret Name" not in text_
    lines = [json.loads(line) for line in text_.splitlines() if line.startswith("{")]
    access = {line["request_id"]: line for line in lines if line["logger"] == "drawdown.access"}
    created = access["req-json-1"]
    assert created["method"] == "POST" and created["path"] == "/v1/customers"
    assert created["status"] == 201 and created["duration_ms"] > 0
    assert created["level"] == "info" and re.match(r"\d{4}-\d\d-\d\dT", created["time"])
    assert access["req-json-2"]["status"] == 404


def test_log_level_warning_turns_the_access_log_off(database_factory: Any, tmp_path: Path) -> None:
    log = tmp_path / "log"
    srv = start_logged_server(database_factory("sqlite"), log, {"DRAWDOWN_LOG_LEVEL": "warning"})
    try:
        with srv.http() as http:
            assert http.get("/ping").status_code == 200
    finally:
        stop_server(srv)
    assert "drawdown.access" not in log.read_text()


def test_text_access_log_line(database_factory: Any, tmp_path: Path) -> None:
    log = tmp_path / "log"
    srv = start_logged_server(database_factory("sqlite"), log)
    try:
        with srv.http() as http:
            http.get("/ping", headers={"X-Request-Id": "req-text-1"})
    finally:
        stop_server(srv)
    assert re.search(
        r"Z INFO drawdown\.access GET /v1/ping 200 \d+\.\dms request_id=req-text-1", log.read_text()
    )


# --- backups and export --------------------------------------------------------------------


def _fill(client: orb.Orb, customers: int = 4) -> list[str]:
    ids = []
    for n in range(customers):
        external = f"bk-{uuid.uuid4().hex[:8]}"
        customer = client.customers.create(
            name=f"B{n}", email=f"b{n}@example.com", external_customer_id=external
        )
        for amount in (100, 250):
            client.customers.credits.ledger.create_entry(
                customer.id, entry_type="increment", amount=amount + n
            )
        client.customers.credits.ledger.create_entry(
            customer.id, entry_type="decrement", amount=7 * (n + 1), description="use"
        )
        ids.append(customer.id)
    return ids


def _balances(client: orb.Orb) -> dict[str, Any]:
    """Every customer's blocks and ledger, as the API reports them."""
    seen: dict[str, Any] = {}
    for customer in client.customers.list(limit=100).data:
        blocks = client.customers.credits.list(customer.id, include_all_blocks=True).data
        entries = client.customers.credits.ledger.list(customer.id, limit=100).data
        seen[customer.id] = (
            sorted((b.id, b.balance) for b in blocks),
            [(e.id, e.entry_type, e.amount, e.ending_balance) for e in entries],
        )
    return seen


@pytest.fixture
def sqlite_server(database_factory: Any) -> Iterator[Server]:
    srv = start_server(database_factory("sqlite"))
    yield srv
    stop_server(srv)


def test_sqlite_backup_while_serving_restores_every_balance(
    sqlite_server: Server, tmp_path: Path
) -> None:
    client = sqlite_server.client()
    _fill(client)
    original = _balances(client)
    # Writes keep going during the backup: the copy is still one consistent snapshot.
    stop = threading.Event()

    def write() -> None:
        extra = client.customers.create(name="W", email="w@example.com")
        while not stop.is_set():
            client.customers.credits.ledger.create_entry(extra.id, entry_type="increment",
                                                         amount=1)  # fmt: skip

    busy = tmp_path / "during.db"
    writer = threading.Thread(target=write)
    writer.start()
    try:
        out = run_cli(sqlite_server.database_url, "backup", str(busy))
    finally:
        stop.set()
        writer.join()
    assert out.startswith(f"backed up to {busy} (")
    with sqlite3.connect(busy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # A backup never overwrites a file.
    failed = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", "backup", str(busy)], cwd=REPO,
        env={**os.environ, "DRAWDOWN_DATABASE_URL": sqlite_server.database_url},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert failed.returncode == 1 and "exists" in failed.stderr

    # Restore as the README says: the backup file becomes the database file.
    restored_path = tmp_path / "restored" / "drawdown.db"
    restored_path.parent.mkdir()
    shutil.copy(busy, restored_path)
    restored = start_server(f"sqlite:///{restored_path}")
    try:
        copy = _balances(restored.client())
    finally:
        stop_server(restored)
    for customer_id, seen in original.items():
        assert copy[customer_id] == seen


def test_postgres_backup_with_pg_dump_restores_every_balance(
    database_factory: Any, postgres_admin_url: str, tmp_path: Path
) -> None:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore not installed")
    source = start_server(database_factory("postgres"))
    try:
        _fill(source.client())
        original = _balances(source.client())
        plain = source.database_url.replace("postgresql+psycopg://", "postgresql://")
        said = subprocess.run(
            [sys.executable, "-m", "drawdown.cli", "backup", str(tmp_path / "x")], cwd=REPO,
            env={**os.environ, "DRAWDOWN_DATABASE_URL": plain}, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        assert said.returncode == 1 and "pg_dump" in said.stderr
        dump = tmp_path / "drawdown.dump"
        dumped = subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", plain],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        if dumped.returncode != 0 and "version mismatch" in dumped.stderr:
            pytest.skip(f"pg_dump cannot dump this server: {dumped.stderr.strip()}")
        assert dumped.returncode == 0, dumped.stderr
    finally:
        stop_server(source)
    target = create_database(postgres_admin_url, f"dd_restore_{uuid.uuid4().hex[:10]}")
    target_plain = target.replace("postgresql+psycopg://", "postgresql://")
    restored = subprocess.run(["pg_restore", "--no-owner", f"--dbname={target_plain}", str(dump)],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    copy_server = start_server(target)
    try:
        copy = _balances(copy_server.client())
    finally:
        stop_server(copy_server)
    assert copy == original


def test_export_csv_and_jsonl(sqlite_server: Server) -> None:
    client = sqlite_server.client()
    customer_id = _fill(client, customers=1)[0]
    url = sqlite_server.database_url
    jsonl = run_cli(url, "export", "--customer", customer_id, "--format", "jsonl")
    rows = [json.loads(line) for line in jsonl.splitlines()]
    api = client.customers.credits.ledger.list(customer_id, limit=100).data
    assert [r["id"] for r in rows] == [e.id for e in api]
    assert [r["entry_type"] for r in rows] == ["decrement", "increment", "increment"]
    assert rows[0]["amount"] == "7" and rows[0]["description"] == "use"
    assert rows[0]["ending_balance"] == str(int(api[0].ending_balance))
    table = list(csv.DictReader(io.StringIO(run_cli(url, "export", "--customer", customer_id))))
    assert [r["id"] for r in table] == [r["id"] for r in rows]
    assert table[1]["sequence_number"] == str(rows[1]["sequence_number"])
    missing = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", "export", "--customer", "nope"], cwd=REPO,
        env={**os.environ, "DRAWDOWN_DATABASE_URL": url}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no customer nope"
    assert missing.stdout == ""


# --- admin and keys commands ---------------------------------------------------------------


def test_admin_list_reset_password_remove(database_factory: Any) -> None:
    url = database_factory("sqlite")
    run_cli(url, "admin", "create-user", "Ops@Example.com", "--password", "first-password-1")
    listing = [json.loads(line) for line in run_cli(url, "admin", "list", "--json").splitlines()]
    assert [a["email"] for a in listing] == ["ops@example.com"]
    assert "password" not in json.dumps(listing)
    assert "ops@example.com" in run_cli(url, "admin", "list")
    out = run_cli(url, "admin", "reset-password", "ops@example.com").strip().splitlines()
    assert "shown only this once" in out[0] and len(out[-1]) >= 12
    assert run_cli(url, "admin", "remove", "ops@example.com").strip() == (
        "removed administrator ops@example.com"
    )
    assert run_cli(url, "admin", "list") == ""
    gone = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", "admin", "remove", "ops@example.com"], cwd=REPO,
        env={**os.environ, "DRAWDOWN_DATABASE_URL": url}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert gone.returncode == 1
    assert gone.stderr.strip() == "error: no administrator with email ops@example.com"


def test_keys_list_json(database_factory: Any) -> None:
    url = database_factory("sqlite")
    secret = run_cli(url, "keys", "create", "--name", "json").strip().splitlines()[-1]
    keys = [json.loads(line) for line in run_cli(url, "keys", "list", "--json").splitlines()]
    assert [(k["name"], k["state"], k["last_used_at"]) for k in keys] == [("json", "active", None)]
    assert secret not in json.dumps(keys) and secret.startswith(keys[0]["prefix"])
