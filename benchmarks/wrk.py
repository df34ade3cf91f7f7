"""Driving a server with wrk and one of the Lua scripts in `lua/`, and reading its summary.

Every script loads `lua/report.lua`, whose `done` prints wrk's summary as one JSON line;
nothing is scraped from wrk's human-readable output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
INSTALL_HINT = "wrk is not installed; install it with `apt-get install wrk` (Debian/Ubuntu)"
REQUEST_TIMEOUT = "10s"  # wrk's default (2 s) would count slow writes as errors


@dataclass(frozen=True)
class Load:
    """wrk's settings for one row: threads, open connections, seconds."""

    threads: int = 2
    connections: int = 32
    seconds: int = 8

    def describe(self) -> str:
        return f"wrk -t{self.threads} -c{self.connections} -d{self.seconds}s"


@dataclass(frozen=True)
class Summary:
    requests: int
    seconds: float
    errors: int  # socket errors, timeouts and responses with status >= 400
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class WrkFailed(RuntimeError):
    """wrk did not run to the end or printed no summary."""


def path() -> str | None:
    return shutil.which("wrk")


class Running:
    """A wrk process started by `start`, loading a server beside whatever else runs."""

    def __init__(self, process: subprocess.Popen[str], load: Load) -> None:
        self.process, self.load = process, load

    def summary(self) -> Summary:
        """Wait for wrk to finish and return its summary."""
        stdout, stderr = self.process.communicate(timeout=self.load.seconds + 60)
        for line in stdout.splitlines():
            if line.startswith("BENCH "):
                return _summary(json.loads(line[len("BENCH ") :]))
        code = self.process.returncode
        raise WrkFailed(f"wrk exited with {code}: {(stderr or stdout)[-500:]}")

    def stop(self) -> None:
        """End wrk if it still runs (a row failed while it ran beside it)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def start(url: str, script: str, args: list[str], load: Load) -> Running:
    """Start loading `url` with `lua/<script>` for `load.seconds`; `summary` waits for it."""
    wrk = path()
    if wrk is None:
        raise WrkFailed(INSTALL_HINT)
    command = [
        wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds}s",
        f"--timeout={REQUEST_TIMEOUT}", "-s", str(LUA / script), url, "--", *args,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Running(process, load)


def run(url: str, script: str, args: list[str], load: Load) -> Summary:
    """Load `url` with `lua/<script>` for `load.seconds` and return wrk's summary."""
    running = start(url, script, args, load)
    try:
        return running.summary()
    finally:
        running.stop()


def _summary(raw: dict[str, int]) -> Summary:
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Summary(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=errors,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )


def version() -> str:
    wrk = path()
    if wrk is None:
        return "not installed"
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).split(" [")[0].strip()
