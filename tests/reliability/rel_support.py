"""Helpers for the reliability suites: long mode, server processes that can be killed and
restarted on one database with one API key, and the checks every suite ends with.

`DRAWDOWN_LONG=1` switches every suite to its long mode (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import REPO, free_port, port_taken, run_cli
from drawdown.services import verify as verification
from support.contexts import make_context

LONG = os.environ.get("DRAWDOWN_LONG", "") not in ("", "0")


def scale(short: int, long: int) -> int:
    """A suite's size: `short` in CI, `long` with DRAWDOWN_LONG=1."""
    return long if LONG else short


class ServerExited(RuntimeError):
    """The server process ended before it answered."""


@dataclass
class Served:
    """`drawdown serve` on a database, restartable with the same API key and port."""

    database_url: str
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None
    log: Any = None
    preexec: Callable[[], None] | None = None  # run in the server's process before it starts
    wrapper: Sequence[str] = ()  # a command the server runs under, e.g. ("faketime", "-f", "+2d")

    def __post_init__(self) -> None:
        if not self.api_key:
            out = run_cli(self.database_url, "keys", "create", "--name", "reliability")
            self.api_key = out.strip().splitlines()[-1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, wait: bool = True) -> None:
        """Start the server (and wait until it answers). Between probing a free port and
        binding it, another process may take the port (an outgoing connection's ephemeral
        port, another worker's server); the server then exits, and starts again on another."""
        for retries_left in (2, 1, 0):
            self._spawn()
            if not wait:
                return
            try:
                self.wait_until_up()
                return
            except ServerExited:
                if not retries_left or not port_taken(self.port):
                    raise
                self.port = free_port()

    def _spawn(self) -> None:
        env = {**os.environ, "DRAWDOWN_DATABASE_URL": self.database_url, **self.env}
        # Output goes to a file: a pipe nobody reads would block a server that logs a lot.
        self.close_log()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - read by `output_text`
        self.process = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "drawdown.cli", "serve", "--port",
             str(self.port), "--workers", str(self.workers)],
            env=env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,
        )  # fmt: skip

    def close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None

    def output_text(self) -> str:
        """What the server printed so far, stdout and stderr."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def wait_until_up(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                printed = self.output_text()[-2000:]
                self.close_log()  # nobody stops a server that never started: close it here
                raise ServerExited(f"server exited with {self.process.returncode}: {printed}")
            try:
                httpx.get(self.base_url + "/ping", timeout=1)  # any answer: it is up
                return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.output_text()[-2000:]}")

    def kill9(self) -> None:
        """SIGKILL the server and every worker: nothing gets to clean up."""
        assert self.process is not None
        for pid in [*descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        # The port is free again once the kernel has dropped the dead listeners.

    def stop(self) -> None:
        """Terminate the server (if running) and close its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.close_log()

    def client(self, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (read from /proc: no psutil needed)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def workers_of(pid: int) -> list[int]:
    """The serving worker processes of a `serve --workers N` parent: the children of its
    fork server (serving.py), not the fork server or the resource tracker themselves."""
    result = []
    for child in children_of(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in cmdline:
            result.extend(children_of(child))
    return sorted(result)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def verify_clean(database_url: str) -> verification.Report:
    """`drawdown verify` over the whole database, asserted clean."""
    ctx = make_context(database_url)
    try:
        report = verification.verify(ctx)
    finally:
        ctx.db.close()
    assert report.clean, [str(m) for m in report.mismatches[:5]]
    return report


def dense(seqs: Sequence[int]) -> bool:
    return sorted(seqs) == list(range(1, len(seqs) + 1))
