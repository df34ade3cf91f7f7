"""Failures an operator can fix are one line on stderr and exit status 1, never a traceback;
the help says what every option defaults to and which variable sets it (issue 13)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, free_port, run_cli
from drawdown.cli import app
from drawdown.cli.options import command


def run_failing(args: list[str], env: dict[str, str] | None = None) -> tuple[str, str]:
    """(stdout, the one error line) of a command that must fail cleanly."""
    result = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", *args],
        env={**os.environ, **(env or {})}, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return result.stdout, lines[0]


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_unsupported_url_scheme() -> None:
    _, error = run_failing(["migrate", "--database-url", "mysql://root@localhost/drawdown"])
    assert "unsupported database 'mysql'" in error and "postgresql://" in error


def test_postgres_database_missing(postgres_admin_url: str) -> None:
    url = _plain_url(postgres_admin_url).rsplit("/", 1)[0] + "/dd_not_created_yet"
    _, error = run_failing(["keys", "list", "--database-url", url])
    assert "'dd_not_created_yet' does not exist" in error and "createdb" in error


def test_postgres_unreachable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/drawdown"
    _, error = run_failing(["migrate"], env={"DRAWDOWN_DATABASE_URL": url})
    assert "cannot reach PostgreSQL at 127.0.0.1" in error and "running" in error


def test_sqlite_directory_missing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/drawdown.db"
    _, error = run_failing(["migrate", "--database-url", url])
    assert "cannot open the SQLite database" in error and "directory exists" in error


@pytest.mark.parametrize("port", ["99999", "0"])
def test_invalid_port(tmp_path: Path, port: str) -> None:
    url = f"sqlite:///{tmp_path}/drawdown.db"
    out, error = run_failing(["serve", "--port", port, "--database-url", url])
    assert "is not a TCP port" in error and "--port" in error
    assert "listening" not in out
    assert not (tmp_path / "drawdown.db").exists(), "nothing happens before the port is known"


def test_busy_port_says_so_before_listening(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        url = f"sqlite:///{tmp_path}/drawdown.db"
        out, error = run_failing(["serve", "--port", str(port), "--database-url", url])
    assert f"127.0.0.1:{port}: already in use" in error
    assert "listening" not in out and "API key" not in out


def test_bad_setting() -> None:
    _, error = run_failing(["migrate"], env={"DRAWDOWN_LOG_FORMAT": "xml"})
    assert error == "error: DRAWDOWN_LOG_FORMAT must be one of text, json, not 'xml'"


def test_pending_migrations_with_auto_migrate_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/drawdown.db"
    off = {"DRAWDOWN_AUTO_MIGRATE": "off"}
    _, error = run_failing(["keys", "list", "--database-url", url], env=off)
    assert "needs migration(s) 0001" in error and "drawdown migrate" in error
    run_cli(url, "migrate", env=off)  # `migrate` itself always migrates
    assert run_cli(url, "keys", "list", env=off) == ""


def test_schema_from_a_newer_drawdown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/drawdown.db"
    run_cli(url, "migrate")
    with sqlite3.connect(tmp_path / "drawdown.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    _, error = run_failing(["serve", "--port", str(free_port()), "--database-url", url])
    assert "'9999_future', made by a newer drawdown" in error


def test_version_and_plain_help() -> None:
    assert run_cli("sqlite://", "--version").startswith("drawdown ")
    help_text = " ".join(run_cli("sqlite://", "serve", "--help").split())
    assert "<bool>" not in help_text and "<int>" not in help_text
    for shown in ("DRAWDOWN_PORT", "default: 8000", "DRAWDOWN_HOST", "default: 127.0.0.1",
                  "DRAWDOWN_WORKERS", "DRAWDOWN_DATABASE_URL"):  # fmt: skip
        assert shown in help_text, shown


def test_every_command_takes_database_url() -> None:
    def leaves(cmd: object, name: str) -> list[tuple[str, object]]:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            return [(name, cmd)]
        return [leaf for n, sub in subs.items() for leaf in leaves(sub, f"{name} {n}")]

    found = leaves(command(app), "drawdown")
    assert len(found) > 10
    for name, cmd in found:
        options = {opt for p in cmd.params for opt in p.opts}  # type: ignore[attr-defined]
        assert "--database-url" in options, name
