"""The official Orb Node SDK (`orb-billing` on npm) against a real server, on both backends.

Runs tests/node/smoke.mjs (see there for what it covers). The SDK version is pinned in
package.json / package-lock.json; `npm ci` installs it on first use. Without node/npm the
test is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import BACKENDS, start_server, stop_server

pytestmark = pytest.mark.slow

NODE_DIR = Path(__file__).resolve().parent
NODE_MAJOR_MIN = 18  # orb-billing relies on the built-in fetch


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


def _installed_version() -> str | None:
    manifest = NODE_DIR / "node_modules" / "orb-billing" / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialises `npm ci` between pytest-xdist workers."""
    with open(Path(tempfile.gettempdir()) / "drawdown-tests-node-npm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node and npm are needed for the Node SDK tests")
    assert node is not None and npm is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = int(version.stdout.strip().lstrip("v").split(".")[0] or 0)
    if major < NODE_MAJOR_MIN:
        _missing(f"Node {NODE_MAJOR_MIN}+ is needed, found {version.stdout.strip()}")
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["orb-billing"]
    with _install_lock():
        if _installed_version() != pinned:
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    assert _installed_version() == pinned
    return node


@pytest.mark.parametrize("backend", BACKENDS)
def test_node_sdk_smoke(node: str, database_factory: Any, backend: str) -> None:
    server = start_server(database_factory(backend))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORB_")}
    env.update(DRAWDOWN_BASE_URL=server.base_url, DRAWDOWN_API_KEY=server.api_key)
    try:
        result = subprocess.run(
            [node, "smoke.mjs"],
            cwd=NODE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop_server(server)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, f"node smoke.mjs exited with {result.returncode}\n{output}"
    assert "all " in result.stdout and "checks passed" in result.stdout, output
