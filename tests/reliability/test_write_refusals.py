"""`/ready` fails while the database refuses writes, and recovers when it takes them again
(issue 23: a full disk made writes answer 500 while `/ready` said "ready").

* A full disk: SQLite on a 4 MiB tmpfs, when the machine lets the test mount one (root);
  skipped otherwise, with the reason.
* A read-only database: a SQLite file without write permission (chmod; as root the server
  runs without the capabilities that ignore file modes), and a PostgreSQL database whose
  sessions are read-only (`default_transaction_read_only`, as managed services set it when
  their disk fills up).

Each: writes fail (500, the issue's own finding), `/ready` answers 503 with
`"writes": "refused"` and the log says why once; when the database takes writes again,
`/ready` answers 200 and writes succeed, with no restart (except the read-only SQLite file:
SQLite opens it read-only once for the whole process, store/write_health.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from conftest import BACKENDS
from reliability.rel_support import Served

pytestmark = pytest.mark.slow

READY_SECONDS_MAX = 20


def ready(served: Served) -> tuple[int, dict[str, Any]]:
    response = httpx.get(served.base_url.removesuffix("/v1") + "/ready", timeout=30)
    return response.status_code, response.json()


def wait_ready(served: Served, status: int) -> dict[str, Any]:
    """Poll /ready until it answers `status` (a refused probe makes the next one reconnect)."""
    deadline = time.monotonic() + READY_SECONDS_MAX
    while True:
        answered, body = ready(served)
        if answered == status or time.monotonic() > deadline:
            assert answered == status, body
            return body
        time.sleep(0.2)


def increment(http: httpx.Client, customer: str) -> int:
    body = {"entry_type": "increment", "amount": 5, "description": "x" * 900}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/customers/{customer}/credits/ledger_entry"
    return http.post(path, json=body, headers=headers).status_code


def first_failed_write(http: httpx.Client, customer: str, attempts: int = 400) -> int:
    """Write until a write fails; its status (WAL room may take a few writes first)."""
    for _ in range(attempts):
        status = increment(http, customer)
        if status != 201:
            return status
    raise AssertionError(f"{attempts} writes succeeded")


def check_refused_then_recovered(
    served: Served, customer: str, *, allow: Any, reason: str, restart: bool = False
) -> None:
    """Writes fail and /ready says so, with one log line; after `allow()` (and a restart,
    if `restart`), /ready answers 200 again and writes succeed."""
    with served.client() as http:
        assert first_failed_write(http, customer) == 500
        body = wait_ready(served, 503)
        assert body == {"status": "not ready", "database": "ok", "migrations": "current",
                        "writes": "refused", "clock": "ok"}  # fmt: skip
        log = served.output_text()
        assert log.count("writes refused:") == 1, log[-3000:]
        assert f"writes refused: {reason}" in log
        allow()
        if restart:
            served.stop()
            served.start()
        assert wait_ready(served, 200) == {"status": "ready", "database": "ok",
                                           "migrations": "current", "writes": "ok",
                                           "clock": "ok"}  # fmt: skip
        assert increment(http, customer) == 201
    if not restart:
        log = served.output_text()
        assert log.count("writes refused:") == 1, log[-3000:]
        assert log.count("writes succeed again") == 1, log[-3000:]


def started_with_a_customer(served: Served) -> str:
    served.start()
    status, body = ready(served)
    assert (status, body["status"]) == (200, "ready"), body
    with served.client() as http:
        customer: str = http.post("/customers", json={"name": "R", "email": "r@example.com"}
                                  ).json()["id"]  # fmt: skip
    return customer


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a 4 MiB tmpfs here (needs root or CAP_SYS_ADMIN): "
                    + (done.stderr.strip() or f"mount exited {done.returncode}"))  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """A file that takes every byte left on the filesystem (unbuffered: nothing is left to
    flush at close)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_ready_fails_while_the_disk_is_full(small_disk: Path) -> None:
    served = Served(
        f"sqlite:///{small_disk / 'drawdown.db'}", env={"DRAWDOWN_LOG_LEVEL": "warning"}
    )
    try:
        customer = started_with_a_customer(served)
        filler = fill(small_disk)
        check_refused_then_recovered(served, customer, allow=filler.unlink,
                                     reason="the disk is full")  # fmt: skip
    finally:
        served.stop()


PR_CAPBSET_DROP = 24
CAPABILITIES_OVER_FILE_MODES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def obey_file_modes() -> None:
    """In the server's process, before it starts: as root, give up the capabilities that
    ignore file modes, so a read-only file is read-only to it too."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in CAPABILITIES_OVER_FILE_MODES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("backend", BACKENDS)
def test_ready_fails_while_the_database_is_read_only(
    backend: str, database_factory: Any, tmp_path: Path
) -> None:
    url = database_factory(backend)
    served = Served(url, env={"DRAWDOWN_LOG_LEVEL": "warning"}, preexec=obey_file_modes)
    try:
        if backend == "sqlite":
            database = Path(url.removeprefix("sqlite:///"))
            customer = started_with_a_customer(served)
            served.stop()  # an open file stays writable: the server must open it read-only
            database.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            served.start()
            # SQLite opened the file read-only for the whole process: a restart reopens it.
            check_refused_then_recovered(
                served, customer, reason="the database is read-only",
                allow=lambda: writable(database), restart=True,
            )  # fmt: skip
        else:
            customer = started_with_a_customer(served)
            with read_only_postgres(url) as allow:
                check_refused_then_recovered(served, customer, allow=allow,
                                             reason="the database is read-only")  # fmt: skip
    finally:
        served.stop()


def writable(database: Path) -> None:
    """What an operator runs: SQLite made the -wal and -shm files it created read-only too."""
    for path in database.parent.glob(database.name + "*"):
        path.chmod(0o644)


@contextlib.contextmanager
def read_only_postgres(url: str) -> Iterator[Any]:
    """Make every new session of the database read-only and end the current ones; the
    context's value makes it writable again."""
    name = url.rsplit("/", 1)[1]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")  # fmt: skip

    def run(*statements: str) -> None:
        with engine.connect() as conn:
            conn.execute(text("SET default_transaction_read_only = off"))
            for statement in statements:
                conn.execute(text(statement))

    run(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")  # fmt: skip
    try:
        yield lambda: run(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    finally:
        run(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        engine.dispose()
