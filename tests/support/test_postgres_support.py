"""The throwaway-PostgreSQL helper itself works (independently of any system server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from .postgres import (
    PostgresUnavailable,
    create_database,
    drop_database,
    find_server_bindir,
    libpq_url,
    normalize_url,
    postgres_url_for_tests,
    throwaway_postgres,
)


def _require_binaries() -> None:
    if find_server_bindir() is None:
        if os.environ.get("CI") == "true":
            raise PostgresUnavailable("CI=true but PostgreSQL server binaries are missing")
        pytest.skip("PostgreSQL server binaries not installed")


def test_url_normalisation() -> None:
    assert normalize_url("postgresql://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert normalize_url("postgres://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert normalize_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert libpq_url("postgresql+psycopg://u:p@h:1/d") == "postgresql://u:p@h:1/d"


def test_throwaway_cluster_select_1_and_databases() -> None:
    # Always the throwaway path, even when DRAWDOWN_TEST_POSTGRES_URL is set.
    _require_binaries()
    t0 = time.monotonic()
    with throwaway_postgres() as url:
        startup_s = time.monotonic() - t0
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            fsync = conn.execute("show fsync").fetchone()
            assert fsync == ("off",)

        db_url = create_database(url, "drawdown_support_test")
        assert db_url.endswith("/drawdown_support_test")
        assert db_url.startswith("postgresql+psycopg://")
        conn = psycopg.connect(libpq_url(db_url), autocommit=True)
        try:
            row = conn.execute("select current_database()").fetchone()
            assert row == ("drawdown_support_test",)
            # an open connection must not block the drop (WITH (FORCE) terminates it)
            drop_database(url, db_url)
        finally:
            conn.close()
        with psycopg.connect(libpq_url(url)) as conn:
            row = conn.execute(
                "select count(*) from pg_database where datname = 'drawdown_support_test'"
            ).fetchone()
            assert row == (0,)
        port = url.rsplit(":", 1)[1].split("/")[0]
    print(f"throwaway cluster startup: {startup_s:.2f}s")
    # stopped on exit
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2)


def test_postgres_url_for_tests_yields_usable_url() -> None:
    with postgres_url_for_tests() as url:
        assert url.startswith("postgresql+psycopg://")
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute("select 1").fetchone() == (1,)


def test_no_postgres_skips_locally_but_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from . import postgres as mod

    monkeypatch.delenv(mod.ENV_URL, raising=False)
    monkeypatch.setattr(mod, "find_server_bindir", lambda: None)

    monkeypatch.setenv("CI", "true")
    with pytest.raises(PostgresUnavailable, match="must not skip"), postgres_url_for_tests():
        pass

    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception), postgres_url_for_tests():
        pass


@pytest.mark.slow  # starts two clusters and SIGKILLs a process
def test_a_cluster_whose_owner_was_killed_is_removed_by_the_next_start() -> None:
    """An xdist worker killed with SIGKILL cannot stop its cluster: the next start does."""
    from . import postgres as mod

    _require_binaries()
    owner = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_OWNER], cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert owner.stdout is not None
        port = owner.stdout.readline().strip().rsplit(":", 1)[1].split("/")[0]
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres").close()  # it runs
        (base,) = [
            d for d in mod._base_parent(os.geteuid() == 0).glob("drawdown-pg-*")
            if (d / "owner").read_text().split()[0] == str(owner.pid)
        ]  # fmt: skip
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    assert base.is_dir()  # nobody stopped it
    with throwaway_postgres():
        assert not base.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2)


ORPHAN_OWNER = """
import time
from support.postgres import throwaway_postgres
with throwaway_postgres() as url:
    print(url, flush=True)
    time.sleep(600)
"""
