"""Fresh databases and the server processes the benchmark drives.

Every server gets a database of its own: a SQLite file in the run's scratch directory, or
a throwaway PostgreSQL database created on the given server and dropped at the end. Each
server runs in a session of its own, so stopping it stops its worker processes too; it is
stopped at the end of its rows even when one of them fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
START_SECONDS_MAX = 60
STOP_SECONDS_MAX = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without inherited DRAWDOWN_* settings, plus `extra`: every server
    runs with the defaults unless the benchmark says otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAWDOWN_")}
    return {**env, **extra}


# --- databases --------------------------------------------------------------------------


@dataclass
class Databases:
    """Creates fresh databases for one run and removes them all at the end."""

    scratch: Path
    postgres_admin_url: str | None = None
    _created: list[str] = field(default_factory=list)

    def sqlite(self, name: str) -> str:
        return f"sqlite:///{self.scratch / name}.db"

    def postgres(self, name: str) -> str:
        assert self.postgres_admin_url is not None
        database = f"drawdown_bench_{os.getpid()}_{name}".replace("-", "_")
        with _admin(self.postgres_admin_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))  # fmt: skip
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        self._created.append(database)
        return _with_database(self.postgres_admin_url, database)

    def drop_all(self) -> None:
        if self.postgres_admin_url is None:
            return
        with _admin(self.postgres_admin_url) as conn:
            for database in self._created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database)))  # fmt: skip
        self._created.clear()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_database(url: str, database: str) -> str:
    base, _, _ = _libpq(url).rpartition("/")
    return f"{base}/{database}"


@contextlib.contextmanager
def _admin(url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        yield conn


def postgres_facts(url: str) -> str:
    """Version and durability settings of the PostgreSQL server, for the record."""
    with _admin(url) as conn:
        values = [
            str(row[0])
            for name in ("server_version", "fsync", "synchronous_commit")
            if (row := conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone())
        ]
    version, fsync, commit = values
    return f"PostgreSQL {version} (fsync={fsync}, synchronous_commit={commit})"


# --- processes ----------------------------------------------------------------------------


def create_api_key(database_url: str) -> str:
    """Migrate the database and create an API key (stored hashed, as in production)."""
    done = subprocess.run(
        [sys.executable, "-m", "drawdown.cli", "keys", "create", "--name", "bench"],
        env=clean_env(DRAWDOWN_DATABASE_URL=database_url), cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"drawdown keys create failed: {done.stderr[-1000:]}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    """A running server process (and its workers), answering on `base_url`."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def rss_per_process(self) -> list[int]:
        """Resident memory (bytes) of the process and of each of its descendants."""
        return [_rss(pid) for pid in [self.process.pid, *_descendants(self.process.pid)]]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_SECONDS_MAX)
        # The session holds the workers too; they go with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


def start(name: str, command: list[str], env: dict[str, str], port: int, scratch: Path,
          api_key: str) -> Server:  # fmt: skip
    log = scratch / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=out, stderr=out,
                                   start_new_session=True)  # fmt: skip
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server, api_key)
    except Exception:
        server.stop()
        raise
    return server


def start_drawdown(name: str, database_url: str, api_key: str, scratch: Path, *,
                   workers: int = 1, env: dict[str, str] | None = None) -> Server:  # fmt: skip
    port = free_port()
    command = [sys.executable, "-m", "drawdown.cli", "serve", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    full_env = clean_env(DRAWDOWN_DATABASE_URL=database_url, **(env or {}))
    return start(name, command, full_env, port, scratch, api_key)


def start_ceiling(framework: str, scratch: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.ceiling", framework, "--port", str(port)]
    return start(f"ceiling-{framework}", command, clean_env(), port, scratch, "unused")


def _wait_until_up(server: Server, api_key: str) -> None:
    deadline = time.monotonic() + START_SECONDS_MAX
    headers = {"Authorization": f"Bearer {api_key}"}
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}: "
                               f"{server.log_tail()}")  # fmt: skip
        try:
            if httpx.get(server.base_url + "/v1/ping", headers=headers, timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer within {START_SECONDS_MAX} s")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                # The parent pid is the 2nd field after the parenthesized command name.
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
