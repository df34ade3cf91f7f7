"""PostgreSQL for tests: an external server or a throwaway local cluster.

Usage from a conftest (session-scoped, so one cluster per pytest process/xdist worker)::

    from support.postgres import create_database, drop_database, postgres_url_for_tests

    @pytest.fixture(scope="session")
    def postgres_admin_url() -> Iterator[str]:
        with postgres_url_for_tests() as url:
            yield url

    @pytest.fixture
    def postgres_url(postgres_admin_url: str) -> Iterator[str]:
        url = create_database(postgres_admin_url, f"t_{uuid.uuid4().hex}")
        yield url
        drop_database(postgres_admin_url, url)

Rules:

* ``DRAWDOWN_TEST_POSTGRES_URL`` set -> it is used as-is (``postgresql://`` is normalised to
  ``postgresql+psycopg://``). The role must be allowed to CREATE DATABASE.
* otherwise a throwaway cluster is started from the local server binaries
  (``/usr/lib/postgresql/*/bin`` or ``pg_config --bindir``), trust auth, superuser ``postgres``.
* neither possible -> ``pytest.skip`` locally, but a hard error when ``CI=true``: postgres
  tests must never be silently skipped in CI.

Under pytest-xdist every worker starts a cluster of its own (the session fixture runs once per
worker process): its own temp dir (``mkdtemp``) and its own port (a free one, retried if another
process takes it before the server binds), so workers never share a cluster or collide. Each
worker stops its cluster when its session ends. A cluster whose owner died without that (a
crashed or killed worker, SIGKILL) is stopped and removed by the next cluster start on the
machine: its dir names the owner's pid, and a dir whose owner is gone is fair game.

All URLs returned are SQLAlchemy URLs: ``postgresql+psycopg://USER@HOST:PORT/DBNAME``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ENV_URL = "DRAWDOWN_TEST_POSTGRES_URL"
SUPERUSER = "postgres"
DBNAME = "postgres"

_START_TIMEOUT_S = 60
_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    # Containers often have a tiny /dev/shm; keep parallel-query DSM out of it.
    "dynamic_shared_memory_type": "mmap",
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """No way to get a PostgreSQL server for the tests."""


def normalize_url(url: str) -> str:
    """Return a SQLAlchemy URL using the psycopg (v3) driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    """SQLAlchemy URL -> a conninfo URL psycopg.connect() accepts."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


# --------------------------------------------------------------------------- binaries


def find_server_bindir() -> Path | None:
    """Directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []

    def version_key(p: str) -> tuple[int, ...]:
        m = re.search(r"/postgresql/(\d+)(?:\.(\d+))?/", p)
        return tuple(int(g) for g in m.groups() if g) if m else (0,)

    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin"):
        candidates += [Path(p) for p in sorted(glob.glob(pattern + "/"), key=version_key)[::-1]]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for d in candidates:
        if all(os.access(d / exe, os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


# --------------------------------------------------------------------------- running as root


def _unprivileged_user() -> str | None:
    """Postgres refuses to run as root; pick an OS user to run it as."""
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


def _others_can_traverse(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


_BASE_PREFIX = "drawdown-pg-"
_OWNER_FILE = "owner"  # "<pid> <process start time>" of the process that started the cluster


def _base_parent(as_root: bool) -> Path:
    tmp = Path(tempfile.gettempdir())
    # unix socket paths are limited to ~107 bytes; a root-run server must reach the dir.
    if len(str(tmp)) > 60 or (as_root and not _others_can_traverse(tmp)):
        tmp = Path("/tmp")
    return tmp


def _process_identity(pid: int) -> str | None:
    """`pid` plus its start time (so a recycled pid is not mistaken for it), or None if gone."""
    try:
        stat_fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return f"{pid} {stat_fields[19]}"  # field 22 of stat(5): starttime


def _make_base_dir(as_root: bool) -> Path:
    base = Path(tempfile.mkdtemp(prefix=_BASE_PREFIX, dir=_base_parent(as_root)))
    (base / _OWNER_FILE).write_text(_process_identity(os.getpid()) or str(os.getpid()))
    return base


def _owner_gone(base: Path) -> bool:
    try:
        owner = (base / _OWNER_FILE).read_text().strip()
    except OSError:
        return False  # not ours to judge (no owner file: another version, or no access)
    pid, _, started = owner.partition(" ")
    if not pid.isdigit():
        return False
    if not started:  # no /proc when it was written: whether the pid lives is all we know
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    return _process_identity(int(pid)) != owner


def _reap_orphans(parent: Path, stop: Callable[[Path], object]) -> None:
    """Stop and remove clusters whose owning process died without tearing them down."""
    for base in parent.glob(_BASE_PREFIX + "*"):
        if base.is_dir() and _owner_gone(base):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                if (base / "data" / "postmaster.pid").exists():
                    stop(base / "data")
            shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- cluster


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a private PostgreSQL cluster in a temp dir; yield its SQLAlchemy URL.

    Raises PostgresUnavailable when no server binaries are found or it fails to start.
    The cluster is stopped (immediate mode) and its directory removed on exit.
    """
    bindir = find_server_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb/pg_ctl/postgres) not found in "
            "/usr/lib/postgresql/*/bin or via pg_config --bindir; "
            "install them (Debian: apt-get install postgresql) or set " + ENV_URL
        )

    as_root = os.geteuid() == 0
    prefix: list[str] = []
    run_as: pwd.struct_passwd | None = None
    if as_root:
        user = _unprivileged_user()
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
        if user is None or runuser is None:
            raise PostgresUnavailable(
                "running as root: need an unprivileged OS user ('postgres' or 'nobody') and "
                "runuser(1) to start PostgreSQL"
            )
        run_as = pwd.getpwnam(user)
        prefix = [runuser, "-u", user, "--"]

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args],
            cwd="/",  # the server user may not be able to read the caller's cwd
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )

    def stop(datadir: Path) -> object:
        return run(str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop")

    _reap_orphans(_base_parent(as_root), stop)
    base = _make_base_dir(as_root)
    datadir = base / "data"
    logfile = base / "postgres.log"
    started = False
    try:
        if run_as is not None:
            os.chown(base, run_as.pw_uid, run_as.pw_gid)

        res = run(
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if res.returncode != 0:
            raise PostgresUnavailable(f"initdb failed:\n{res.stdout}\n{res.stderr}")

        settings = {**_SERVER_SETTINGS, "unix_socket_directories": f"'{base}'"}
        last_error = ""
        for _attempt in range(3):  # the free port can be stolen between probe and bind
            port = _free_port()
            conf = {**settings, "port": str(port)}
            with open(datadir / "postgresql.conf", "a") as f:
                f.write("\n# drawdown test settings\n")
                f.writelines(f"{k} = {v}\n" for k, v in conf.items())
            res = run(
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir),
                "-l",
                str(logfile),
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "start",
                timeout=_START_TIMEOUT_S + 30,
            )
            if res.returncode == 0:
                started = True
                break
            log = logfile.read_text(errors="replace") if logfile.exists() else ""
            last_error = f"{res.stdout}\n{res.stderr}\n--- server log ---\n{log[-4000:]}"
            if "Address already in use" not in log and "could not bind" not in log:
                break
        if not started:
            raise PostgresUnavailable(f"pg_ctl start failed:\n{last_error}")

        yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{DBNAME}"
    finally:
        if started:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                stop(datadir)
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def postgres_url_for_tests() -> Iterator[str]:
    """Yield an admin URL: $DRAWDOWN_TEST_POSTGRES_URL, else a throwaway cluster.

    If neither is possible: error under CI=true, pytest.skip otherwise.
    """
    env_url = os.environ.get(ENV_URL, "").strip()
    if env_url:
        yield normalize_url(env_url)
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_postgres())
        except PostgresUnavailable as exc:
            if os.environ.get("CI") == "true":
                raise PostgresUnavailable(
                    "CI=true and no PostgreSQL available "
                    f"(postgres tests must not skip in CI): {exc}"
                ) from exc
            pytest.skip(f"PostgreSQL not available (set {ENV_URL} or install postgresql): {exc}")
        yield url


# --------------------------------------------------------------------------- databases


def _admin_connect(admin_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=10)


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> str:
    """CREATE DATABASE ``name`` on the admin URL's server; return its SQLAlchemy URL."""
    from psycopg import sql

    with _admin_connect(admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return normalize_url(_with_database(admin_url, name))


def drop_database(admin_url: str, name_or_url: str) -> None:
    """DROP DATABASE IF EXISTS (terminating open connections). Accepts a name or a URL."""
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = name_or_url
    if "://" in name_or_url:
        name = make_url(name_or_url).database or ""
    if not name:
        raise ValueError(f"no database name in {name_or_url!r}")
    with _admin_connect(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
