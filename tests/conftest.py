"""Shared fixtures: a real drawdown server process per database backend, driven by the SDK.

Every integration test runs twice, on SQLite and on PostgreSQL. PostgreSQL comes from
`DRAWDOWN_TEST_POSTGRES_URL` or a throwaway cluster (tests/support/postgres.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orb
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from support.postgres import create_database, drop_database, postgres_url_for_tests

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgres")

# Every HTTP client the tests open (the SDK's included: it wraps an httpx.Client). A client a
# test leaves open would otherwise close its socket whenever the garbage collector reaches it,
# and its ResourceWarning (an error here) then fails whichever test happens to be running.
_opened_clients: weakref.WeakSet[httpx.Client] = weakref.WeakSet()
_httpx_client_init = httpx.Client.__init__


def _tracked_init(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
    _httpx_client_init(self, *args, **kwargs)
    _opened_clients.add(self)


httpx.Client.__init__ = _tracked_init  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _close_clients_the_test_opened() -> Iterator[None]:
    """Close, when a test ends, the clients it opened; clients of wider-scoped fixtures (set
    up before this one) stay open for the tests that share them."""
    before = set(_opened_clients)
    yield
    for opened in list(_opened_clients):
        if opened not in before:
            opened.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(database_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, "DRAWDOWN_DATABASE_URL": database_url, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", *args],
        env=full_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass
class Server:
    """A running `drawdown serve` process and a way to look inside its database."""

    base_url: str
    api_key: str
    database_url: str
    process: subprocess.Popen[bytes]
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(
            self.database_url.replace("postgresql://", "postgresql+psycopg://")
        )

    def client(self, **kwargs: Any) -> orb.Orb:
        kwargs.setdefault("max_retries", 0)
        return orb.Orb(api_key=self.api_key, base_url=self.base_url, **kwargs)

    def http(self) -> httpx.Client:
        """A raw client; bodies are declared JSON, as the SDKs declare them (docs/rules.md §1.2)."""
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        return httpx.Client(base_url=self.base_url, headers=headers)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table that holds customer data, to prove nothing was written."""
        tables = (
            "customers", "ledgers", "credit_blocks", "ledger_entries", "ledger_commands",
            "invoices", "top_ups", "credit_notes", "credit_note_line_items",
            "customer_balance_transactions", "alerts", "usage_items", "usage_metrics",
            "usage_prices", "usage_events", "usage_carry", "usage_draws",
            "usage_event_amendments", "usage_backfills",
        )  # fmt: skip
        with self.engine.connect() as conn:
            return {
                t: sorted(tuple(map(str, r)) for r in conn.execute(text(f"SELECT * FROM {t}")))
                for t in tables
            }


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class PortTaken(RuntimeError):
    """Another process took the port a server was to listen on."""


def create_api_key(database_url: str, name: str = "tests") -> str:
    """A new API key on the database, migrated first. Made in this process: a `drawdown keys
    create` process per server would cost seconds of CPU (it loads the whole app)."""
    from drawdown.services.access import api_keys
    from support.contexts import make_context

    ctx = make_context(database_url)
    try:
        return api_keys.create_key(ctx, name).secret
    finally:
        ctx.db.close()


def start_server(database_url: str, env: dict[str, str] | None = None) -> Server:
    key = create_api_key(database_url)
    # No access log (tests/test_operations.py checks it on servers of its own).
    full_env = {"DRAWDOWN_LOG_LEVEL": "warning", **os.environ,
                "DRAWDOWN_DATABASE_URL": database_url, **(env or {})}  # fmt: skip
    retries = 2
    while True:
        port = free_port()
        # stdout goes to a file only until the server says it listens (then it is unlinked).
        fd, output = tempfile.mkstemp(prefix="drawdown-serve-")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "drawdown.cli", "serve", "--port", str(port)],
                env=full_env,
                cwd=REPO,
                stdout=fd,
            )
        finally:
            os.close(fd)
        try:
            _wait_until_listening(process, Path(output), port)
        except PortTaken:
            if not retries:
                raise
            retries -= 1
            continue
        finally:
            os.unlink(output)
        base_url = f"http://127.0.0.1:{port}/v1"
        return Server(base_url=base_url, api_key=key, database_url=database_url, process=process)


def _wait_until_listening(process: subprocess.Popen[bytes], output: Path, port: int) -> None:
    """Until the server prints that it listens. Not a ping: between probing a free port and
    binding it, another process (a parallel xdist worker's server, any socket's ephemeral
    port) may take it, and another server would answer; then this one exits: `PortTaken`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b"drawdown listening on " in output.read_bytes():
            return
        if process.poll() is not None:
            if port_taken(port):
                raise PortTaken(f"server exited with {process.returncode}: port {port} taken")
            raise RuntimeError(f"server exited with {process.returncode}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start")


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(base_url + "/ping", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    server.engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_url_for_tests() as url:
        yield url


@pytest.fixture(scope="session")
def database_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """Makes a fresh empty database URL for a backend."""
    created: list[tuple[str, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'drawdown.db'}"
        admin = request.getfixturevalue("postgres_admin_url")
        url = create_database(admin, f"dd_{uuid.uuid4().hex[:12]}")
        created.append((admin, url))
        return url

    yield make
    # The admin URL is remembered at creation: the cluster fixture may already be gone here.
    for admin, url in created:
        # The throwaway cluster may be torn down first, taking its databases with it.
        with contextlib.suppress(Exception):
            drop_database(admin, url)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Server]:
    srv = start_server(database_factory(request.param))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session", params=BACKENDS)
def drafting_server(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Server]:
    """A server that makes draft invoices for customers with `auto_issuance: false`
    (`DRAWDOWN_DRAFT_INVOICES=manual_issuance`; by default, R-INV-4, it never does)."""
    env = {"DRAWDOWN_DRAFT_INVOICES": "manual_issuance"}
    srv = start_server(database_factory(request.param), env=env)
    yield srv
    stop_server(srv)


@pytest.fixture
def client(server: Server) -> orb.Orb:
    return server.client()


def unique(prefix: str = "ext") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def table_rows(engine: Engine, table: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table)).mappings())
