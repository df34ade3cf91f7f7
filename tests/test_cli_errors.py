"""Every failure of every command is one line on stderr starting `error: `, exit status 1,
never a traceback (issues 13 and 21); the help says what every option defaults to and which
variable sets it.

The commands run in this process through `options.run` (what `drawdown` runs), which is
seconds faster per command than a fresh interpreter; one test runs the real entry point.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import REPO, free_port
from drawdown.cli import app
from drawdown.cli.options import command, run
from drawdown.services import customers
from drawdown.services.credits import entries
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store.migrate import head_revision
from support.contexts import make_context


class Cli:
    """Runs `drawdown ARGS` in this process against one database (settings from the
    environment, restored after the test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                 url: str) -> None:  # fmt: skip
        self.monkeypatch, self.capsys, self.url = monkeypatch, capsys, url

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(exit status, stdout, stderr)."""
        for name, value in {"DRAWDOWN_DATABASE_URL": self.url, **(env or {})}.items():
            self.monkeypatch.setenv(name, value)
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            run(app, list(args))
        out, err = self.capsys.readouterr()
        code = exited.value.code
        return code if isinstance(code, int) else (0 if code is None else 1), out, err

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        code, out, err = self(*args, env=env)
        assert code == 0, (args, out, err)
        return out

    def fails(self, *args: str, env: dict[str, str] | None = None) -> str:
        """The one error line of a command that must fail cleanly."""
        code, out, err = self(*args, env=env)
        # `verify` reports its progress on stderr before it names the mismatch.
        lines = [line for line in err.splitlines() if not line.startswith("verified ")]
        assert code == 1, (args, code, out, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
        return lines[0]


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)  # relative paths (backups) land here
    yield Cli(monkeypatch, capsys, f"sqlite:///{tmp_path / 'drawdown.db'}")


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --- every command's failure paths ------------------------------------------------------------

# (command, its arguments, what the error line says). Commands that only read fail when the
# database cannot be used (here: migrations pending with DRAWDOWN_AUTO_MIGRATE=off); every
# other failure is theirs.
REFUSALS = [
    ("serve", ["--port", "99999"], "port 99999 is not a TCP port (1-65535); choose another port"),
    ("keys create", [], "missing option '--name' (see drawdown keys create --help)"),
    ("keys create", ["--name", " "], "name: must be 1-255 characters"),
    ("keys revoke", ["nokey"], "no active key with id nokey"),
    ("admin create-user", ["not-an-email"], "email: must be a valid email address"),
    ("admin create-user", ["ops@example.com", "--password", "short"],
     "password: must be 12-256 characters"),
    ("admin reset-password", ["nobody@example.com"], "no administrator with email nobody@"),
    ("admin remove", ["nobody@example.com"], "no administrator with email nobody@example.com"),
    ("backup", ["taken.db"], "path: /"),  # the full path of the file that exists already
    ("export", ["--customer", "nope"], "no customer nope"),
    ("export", [], "invalid value: give --customer ID or --external-customer-id ID"),
    ("export", ["--customer", "x", "--format", "xml"], "invalid value for --format: must be"),
    ("webhooks add", ["ftp://example.com/hook"], "url: must be an http(s) URL"),
    ("webhooks add", ["https://example.com/hook", "--secret", "nope"], "secret: must be whsec_"),
    ("webhooks add", ["https://example.com/hook", "--event", "nope"], "events: unknown event"),
    ("webhooks remove", ["nope"], "could not find a resource of type WebhookEndpoint with "
                                  "identifier: nope"),
    ("webhooks replay", ["nope"], "could not find a resource of type WebhookEvent with "
                                  "identifier: nope"),
    ("report liability", ["--from", "2026-02-30", "--to", "2026-03-01"],
     "invalid value for --from: '2026-02-30' is not a date"),
    ("report liability", ["--from", "2026-03-02", "--to", "2026-03-01"],
     "to: must not be before from"),
    ("report liability", ["--from", "2026-03-01"], "missing option '--to'"),
    ("items add", ["gpu", "--name", "Again"], "item_id: an item 'gpu' exists already"),
    ("items archive", ["nope"], "could not find a resource of type Item with identifier: nope"),
    ("metrics add", ["--item", "gpu", "--name", "m", "--sql", "SELECT AVG(x) FROM events"],
     "sql: expected COUNT(*) or SUM(<property>)"),
    ("prices add", ["--item", "gpu", "--credits-per-unit", "1"],
     "give --event-name and --metric, or --billable-metric"),
    ("prices add", ["--item", "gpu", "--event-name", "e", "--metric", "count",
                    "--credits-per-unit", "x"], "credits_per_unit: must be a plain decimal"),
    ("prices add", ["--item", "gpu", "--event-name", "e", "--metric", "count",
                    "--credits-per-unit", "1", "--effective-from", "yesterday"],
     "effective_from: must be YYYY-MM-DD or an ISO 8601 datetime"),
    ("nosuch", [], "no such command 'nosuch' (see drawdown --help)"),
    ("keys list", ["--bogus"], "no such option: --bogus (see drawdown keys list --help)"),
]  # fmt: skip
READ_ONLY = ["keys list", "admin list", "webhooks list", "verify", "items list", "metrics list",
             "prices list", "usage deduct", "expire", "migrate", "status"]  # fmt: skip


def _leaves(cmd: object, name: str) -> list[tuple[str, object]]:
    subs = getattr(cmd, "commands", None)
    if subs is None:
        return [(name, cmd)]
    return [leaf for n, sub in subs.items() for leaf in _leaves(sub, f"{name} {n}".strip())]


def test_every_command_has_its_failures_tested() -> None:
    tested = {name for name, _, _ in REFUSALS} | set(READ_ONLY)
    assert {name for name, _ in _leaves(command(app), "")} <= tested


def test_refusals_are_one_error_line(cli: Cli) -> None:
    cli.ok("items", "add", "gpu", "--name", "GPU time")
    Path("taken.db").write_bytes(b"")
    for name, args, said in REFUSALS:
        error = cli.fails(*name.split(), *args)
        assert error.startswith(f"error: {said}"), (name, args, error)
    assert cli.ok("items", "list").count("gpu") == 1  # nothing refused was written


def test_read_only_commands_fail_on_an_unusable_database(cli: Cli) -> None:
    assert cli.fails("status").startswith("error: no SQLite database at ")  # none made
    off = {"DRAWDOWN_AUTO_MIGRATE": "off"}
    for name in READ_ONLY:
        if name in ("migrate", "status"):
            continue  # `migrate` always migrates; `status` reports what is pending
        error = cli.fails(*name.split(), env=off)
        assert "needs migration(s) 0001" in error and "drawdown migrate" in error, name
    assert "no schema yet; `drawdown migrate` applies them" in cli.ok("status", env=off)
    cli.ok("migrate", env=off)
    assert f"current (revision {head_revision()})" in cli.ok("status", env=off)


def test_verify_mismatch_is_named_on_one_error_line(cli: Cli, tmp_path: Path) -> None:
    ctx = make_context(cli.url)
    made = customers.create_customer({"name": "C", "email": "c@x.test"}).run(ctx)
    entries.create_entry(CustomerRef(id=made.id), entry_request(
        {"entry_type": "increment", "amount": Decimal(5)})).run(ctx)  # fmt: skip
    ctx.db.close()
    with sqlite3.connect(tmp_path / "drawdown.db") as conn:  # behind drawdown's back
        conn.execute("UPDATE ledgers SET balance = '6'")
    error = cli.fails("verify")
    assert error.startswith(f"error: first mismatch: customer {made.id} ledger credits: "), error


def test_migrate_says_what_it_applied(cli: Cli, tmp_path: Path) -> None:
    lines = cli.ok("migrate").splitlines()
    assert lines[0] == "applied 0001: initial schema"
    assert all(line.startswith("applied ") for line in lines[:-1]) and len(lines) > 6
    assert lines[-1] == (f"database SQLite {tmp_path / 'drawdown.db'} is now at revision "
                         f"{head_revision()} ({len(lines) - 1} migration(s) applied)")  # fmt: skip
    again = cli.ok("migrate").strip()
    assert again == (f"database SQLite {tmp_path / 'drawdown.db'} is up to date (revision "
                     f"{head_revision()}); nothing to apply")  # fmt: skip


def test_a_group_without_a_command_shows_its_commands(cli: Cli) -> None:
    code, out, err = cli("keys")
    assert code == 0 and err == "" and "create" in out and "revoke" in out


# --- the database and the server cannot be used --------------------------------------------


def test_unsupported_url_scheme(cli: Cli) -> None:
    cli.url = "mysql://root@localhost/drawdown"
    error = cli.fails("migrate")
    assert "unsupported database 'mysql'" in error and "postgresql://" in error


def test_postgres_database_missing(cli: Cli, postgres_admin_url: str) -> None:
    cli.url = _plain_url(postgres_admin_url).rsplit("/", 1)[0] + "/dd_not_created_yet"
    error = cli.fails("keys", "list")
    assert "'dd_not_created_yet' does not exist" in error and "createdb" in error


def test_postgres_unreachable(cli: Cli) -> None:
    cli.url = f"postgresql://postgres@127.0.0.1:{free_port()}/drawdown"
    error = cli.fails("migrate")
    assert "cannot reach PostgreSQL at 127.0.0.1" in error and "running" in error


def test_sqlite_directory_missing(cli: Cli, tmp_path: Path) -> None:
    cli.url = f"sqlite:///{tmp_path}/no/such/dir/drawdown.db"
    error = cli.fails("migrate")
    assert "cannot open the SQLite database" in error and "directory exists" in error


@pytest.mark.parametrize("port", ["99999", "0"])
def test_invalid_port(cli: Cli, tmp_path: Path, port: str) -> None:
    code, out, err = cli("serve", "--port", port)
    assert code == 1 and "is not a TCP port" in err and "--port" in err
    assert "listening" not in out
    assert not (tmp_path / "drawdown.db").exists(), "nothing happens before the port is known"


def test_busy_port_says_so_before_listening(cli: Cli) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, out, err = cli("serve", "--port", str(port))
    assert code == 1 and f"127.0.0.1:{port}: already in use" in err
    assert "listening" not in out and "API key" not in out


def test_bad_setting(cli: Cli) -> None:
    error = cli.fails("migrate", env={"DRAWDOWN_LOG_FORMAT": "xml"})
    assert error == "error: DRAWDOWN_LOG_FORMAT must be one of text, json, not 'xml'"


def test_pending_migrations_with_auto_migrate_off(cli: Cli) -> None:
    off = {"DRAWDOWN_AUTO_MIGRATE": "off"}
    error = cli.fails("keys", "list", env=off)
    assert "needs migration(s) 0001" in error and "drawdown migrate" in error
    cli.ok("migrate", env=off)  # `migrate` itself always migrates
    assert cli.ok("keys", "list", env=off) == ""


def test_schema_from_a_newer_drawdown(cli: Cli, tmp_path: Path) -> None:
    cli.ok("migrate")
    with sqlite3.connect(tmp_path / "drawdown.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    assert "'9999_future', made by a newer drawdown" in cli.fails("keys", "list")
    assert "'9999_future', made by a newer drawdown" in cli.fails("migrate")
    assert "9999_future is from a newer drawdown" in cli.ok("status")


def test_version_and_plain_help(cli: Cli) -> None:
    assert cli.ok("--version").startswith("drawdown ")
    help_text = " ".join(cli.ok("serve", "--help").split())
    assert "<bool>" not in help_text and "<int>" not in help_text
    for shown in ("DRAWDOWN_PORT", "default: 8000", "DRAWDOWN_HOST", "default: 127.0.0.1",
                  "DRAWDOWN_WORKERS", "DRAWDOWN_DATABASE_URL"):  # fmt: skip
        assert shown in help_text, shown


def test_every_command_takes_database_url() -> None:
    found = _leaves(command(app), "drawdown")
    assert len(found) > 10
    for name, cmd in found:
        options = {opt for p in cmd.params for opt in p.opts}  # type: ignore[attr-defined]
        assert "--database-url" in options, name


def test_the_entry_point_prints_one_error_line(tmp_path: Path) -> None:
    """`python -m drawdown.cli` (what scripts/drawdown and the console script run)."""
    result = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", "items", "add", "gpu"],
        env={**os.environ, "DRAWDOWN_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"},
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: missing option '--name' (see drawdown items add --help)\n"
