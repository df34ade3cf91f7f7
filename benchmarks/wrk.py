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


def run(url: str, script: str, args: list[str], load: Load) -> Summary:
    """Load `url` with `lua/<script>` for `load.seconds` and return wrk's summary."""
    wrk = path()
    if wrk is None:
        raise WrkFailed(INSTALL_HINT)
    command = [
        wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds}s",
        f"--timeout={REQUEST_TIMEOUT}", "-s", str(LUA / script), url, "--", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=load.seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return _summary(json.loads(line[len("BENCH ") :]))
    raise WrkFailed(f"wrk exited with {done.returncode}: {(done.stderr or done.stdout)[-500:]}")


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
