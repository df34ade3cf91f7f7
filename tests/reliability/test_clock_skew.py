"""One clock (issue 23): two servers on one database, one of them with its clock two days
off (Debian's `faketime`). The skewed one refuses every write and says so on `/ready` and
once in its log; nothing it could have done happens: no early expiry, no entry stamped in
the future, no expiry date already past accepted. On PostgreSQL a server's writes take the
database's time even within the allowed skew. Both databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conftest import BACKENDS
from reliability.rel_support import Served

pytestmark = [
    pytest.mark.skipif(
        shutil.which("faketime") is None,
        reason="needs Debian's faketime (apt-get install faketime)",
    ),
    pytest.mark.slow,
]
ERROR_PREFIX = "https://docs.withorb.com/reference/error-responses#"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, database_factory: Any) -> str:
    return str(database_factory(request.param))


def _served(url: str, shift: str | None = None, **env: str) -> Served:
    wrapper = ("faketime", "-f", shift) if shift else ()
    quiet = {"DRAWDOWN_WEBHOOK_DELIVERY": "off", "DRAWDOWN_USAGE_DEDUCTION": "off"}
    served = Served(url, wrapper=wrapper, env={**quiet, **env})
    served.start()
    return served


@pytest.fixture
def right(database_url: str) -> Iterator[Served]:
    served = _served(database_url)
    yield served
    served.stop()


def _client(served: Served) -> httpx.Client:
    headers = {"Authorization": f"Bearer {served.api_key}"}
    return httpx.Client(base_url=served.base_url, headers=headers, timeout=30)


def _entries(client: httpx.Client, customer: str) -> list[dict[str, Any]]:
    listed = client.get(f"/customers/{customer}/credits/ledger", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


@pytest.mark.parametrize("shift", ["+2d", "-2d"])
def test_a_server_two_days_off_writes_nothing(right: Served, shift: str) -> None:
    skewed = _served(right.database_url, shift)
    try:
        with _client(right) as good, _client(skewed) as bad:
            customer = good.post("/customers", json={"name": "C", "email": "c@x.test"}).json()
            expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            made = good.post(f"/customers/{customer['id']}/credits/ledger_entry", json={
                "entry_type": "increment", "amount": 100, "expiry_date": expires})  # fmt: skip
            assert made.status_code == 201, made.text
            before = _entries(good, customer["id"])

            ready = httpx.get(skewed.base_url.removesuffix("/v1") + "/ready", timeout=30)
            assert ready.status_code == 503 and ready.json()["clock"] == "skewed", ready.text
            spent = bad.post(f"/customers/{customer['id']}/credits/ledger_entry",
                             json={"entry_type": "decrement", "amount": 5})  # fmt: skip
            assert spent.status_code == 503, spent.text
            assert spent.json()["type"] == ERROR_PREFIX + "500-internal-server-error"
            assert "clock" in spent.json()["detail"]
            past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            late = bad.post(f"/customers/{customer['id']}/credits/ledger_entry", json={
                "entry_type": "increment", "amount": 1, "expiry_date": past})  # fmt: skip
            assert late.status_code == 503, late.text
            # Two days ahead, the block looks expired: reading it must not expire it early.
            read = bad.get(f"/customers/{customer['id']}/credits")
            assert read.status_code in (200, 503), read.text

            after = _entries(good, customer["id"])
            assert after == before  # nothing written: no expiry, no decrement, no increment
            assert [e["entry_type"] for e in after] == ["increment"]
            stamped = datetime.fromisoformat(after[0]["created_at"].replace("Z", "+00:00"))
            assert stamped <= datetime.now(UTC)
            balance = good.get(f"/customers/{customer['id']}/credits").json()["data"]
            assert [b["balance"] for b in balance] == [100]
        log = skewed.output_text()
        assert log.count("writes refused: this server's clock is") == 1, log[-3000:]
    finally:
        skewed.stop()


def test_on_postgres_writes_take_the_database_time(right: Served) -> None:
    """A server 1.5 s ahead (within the allowed 2 s) writes, stamped with the database's
    time on PostgreSQL and with its own on SQLite (there the machine is the database)."""
    ahead = _served(right.database_url, "+1.5")
    try:
        with _client(ahead) as client:
            customer = client.post("/customers", json={"name": "C", "email": "c@x.test"}).json()
            sent_at = datetime.now(UTC)
            made = client.post(f"/customers/{customer['id']}/credits/ledger_entry",
                               json={"entry_type": "increment", "amount": 1})  # fmt: skip
            assert made.status_code == 201, made.text
            stamped = datetime.fromisoformat(made.json()["created_at"].replace("Z", "+00:00"))
        lead = (stamped - sent_at).total_seconds()
        if right.database_url.startswith("postgresql"):
            assert lead < 1.0, lead  # the database's clock, not the server's +1.5 s
        else:
            assert lead >= 1.4, lead
    finally:
        ahead.stop()
