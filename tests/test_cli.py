"""The command line: every command named in the README works against a real database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orb
import pytest
from sqlalchemy import text

from conftest import run_cli, start_server, stop_server
from drawdown.store.migrate import head_revision

pytestmark = pytest.mark.slow


def test_keys_create_list_revoke_and_migrate(database_factory) -> None:
    url = database_factory("sqlite")
    applied = run_cli(url, "migrate").splitlines()
    assert applied[0] == "applied 0001: initial schema", applied
    assert applied[-1].startswith(f"database SQLite {url.removeprefix('sqlite:///')} is now at")
    again = run_cli(url, "migrate").strip()
    assert again.endswith(f"is up to date (revision {head_revision()}); nothing to apply"), again
    out = run_cli(url, "keys", "create", "--name", "ci").strip().splitlines()
    secret = out[-1]
    assert secret.startswith("dd_") and len(secret) > 40
    listing = run_cli(url, "keys", "list")
    assert "ci" in listing and secret not in listing and "active" in listing
    server = start_server(url)
    try:
        client = orb.Orb(api_key=secret, base_url=server.base_url, max_retries=0)
        assert client.top_level.ping().response == "pong"
        key_id = out[-2].split()[2]
        assert run_cli(url, "keys", "revoke", key_id).strip() == f"revoked {key_id}"
        # Another process revoked it: the server's key map refreshes twice a second (the
        # promise is "within one second"; a loaded CI machine may schedule that thread late).
        deadline = time.monotonic() + 10
        with pytest.raises(orb.AuthenticationError):
            while time.monotonic() < deadline:
                client.top_level.ping()
                time.sleep(0.1)
    finally:
        stop_server(server)
    assert "revoked" in run_cli(url, "keys", "list")


def test_expire_sweeps_due_blocks(database_factory) -> None:
    url = database_factory("sqlite")
    server = start_server(url)
    soon = datetime.now(UTC) + timedelta(seconds=2)
    try:
        client = server.client()
        customer = client.customers.create(name="E", email="e@example.com")
        client.customers.credits.ledger.create_entry(
            customer.id, entry_type="increment", amount=5, expiry_date=soon.isoformat()
        )
        engine = server.engine
    finally:
        stop_server(server)
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    assert "expired blocks of 1 customer(s)" in run_cli(url, "expire")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT entry_type, amount, seq FROM ledger_entries ORDER BY seq")
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("increment", "5", 1),
        ("credit_block_expiry", "5", 2),
    ]
    assert "expired blocks of 0 customer(s)" in run_cli(url, "expire")


def test_env_api_keys_are_accepted(database_factory) -> None:
    url = database_factory("sqlite")
    server = start_server(url, env={"DRAWDOWN_API_KEYS": "static-key-1,static-key-2"})
    try:
        client = orb.Orb(api_key="static-key-2", base_url=server.base_url, max_retries=0)
        assert client.top_level.ping().response == "pong"
    finally:
        stop_server(server)
