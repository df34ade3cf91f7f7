"""Paths are relative to where the command ran, not to the checkout (issue 21): the default
`./drawdown.db`, a relative `sqlite:///` URL, `backup PATH` and the writer lock land in the
caller's directory when `scripts/drawdown` runs from elsewhere; the startup lines name the
database and the API, docs, console and metrics URLs; `status` sees the server."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, free_port
from drawdown.settings import Settings, resolve_database_url

pytestmark = pytest.mark.slow

SCRIPT = REPO / "scripts" / "drawdown"


@pytest.mark.parametrize(("given", "resolved"), [
    ("sqlite:///./drawdown.db", "sqlite:////work/here/drawdown.db"),
    ("sqlite:///rel/dd.db", "sqlite:////work/here/rel/dd.db"),
    ("sqlite:///../up.db?timeout=5", "sqlite:////work/up.db?timeout=5"),
    ("sqlite+pysqlite:///x.db", "sqlite+pysqlite:////work/here/x.db"),
    ("sqlite:////abs/dd.db", "sqlite:////abs/dd.db"),
    ("sqlite://", "sqlite://"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
    ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
])  # fmt: skip
def test_relative_sqlite_paths_resolve_against_the_working_directory(
    given: str, resolved: str
) -> None:
    assert resolve_database_url(given, "/work/here") == resolved


def test_settings_resolve_the_default_where_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRAWDOWN_DATABASE_URL", raising=False)
    assert Settings.from_env().database_url == f"sqlite:///{tmp_path / 'drawdown.db'}"
    monkeypatch.setenv("DRAWDOWN_DATABASE_URL", "sqlite:///data/dd.db")
    assert Settings.from_env().database_url == f"sqlite:///{tmp_path / 'data' / 'dd.db'}"


def _script(cwd: Path, *args: str) -> str:
    result = subprocess.run([str(SCRIPT), *args], cwd=cwd, env=_env(), capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _env() -> dict[str, str]:
    """The caller's environment without drawdown settings: every default applies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAWDOWN_")}
    return env | {"DRAWDOWN_LOG_LEVEL": "warning"}


def _wait_for(path: Path, text: str, server: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        said = path.read_text() if path.exists() else ""
        if text in said:
            return said
        assert server.poll() is None, said
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_the_script_works_where_it_is_run(tmp_path: Path) -> None:
    here = tmp_path / "elsewhere"
    here.mkdir()
    strays = ("rel-backup.db", "drawdown.db", "drawdown.db-writer.lock")
    in_checkout = {name: (REPO / name).exists() for name in strays}
    database = here / "drawdown.db"
    migrated = _script(here, "migrate").splitlines()
    assert migrated[-1].startswith(f"database SQLite {database} is now at revision ")
    port = free_port()
    out = here / "serve.out"
    with out.open("wb") as sink:
        server = subprocess.Popen([str(SCRIPT), "serve", "--port", str(port)], cwd=here,
                                  env=_env(), stdout=sink)  # fmt: skip
    try:
        said = _wait_for(out, "metrics  ", server)
        base = f"http://127.0.0.1:{port}"
        assert f"drawdown listening on {base} (1 process), database SQLite {database}" in said
        for line in (f"API      {base}/v1", f"docs     {base}/v1/docs",
                     f"console  {base}/console", f"metrics  {base}/metrics"):  # fmt: skip
            assert f"\n  {line}\n" in said, said
        deadline = time.monotonic() + 30  # the server registers from a thread once it serves
        while not (status := json.loads(_script(here, "status", "--json")))["serving"]:
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["database"] == {"kind": "sqlite", "location": str(database)}
        [serving] = status["serving"]
        assert serving["url"] == base and serving["pid"] != os.getpid()
        backed = _script(here, "backup", "rel-backup.db").strip()
        assert backed.startswith(f"backed up to {here / 'rel-backup.db'} (")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (here / "rel-backup.db").exists() and (here / "drawdown.db-writer.lock").exists()
    assert {name: (REPO / name).exists() for name in strays} == in_checkout, "written there"
    assert json.loads(_script(here, "status", "--json"))["serving"] == []  # it unregistered
