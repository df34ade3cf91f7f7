"""Writes to one customer are serialized: no lost update, no duplicate sequence numbers."""

from __future__ import annotations

import concurrent.futures
from collections import Counter

import pytest
from sqlalchemy import text

from conftest import Server, start_server, stop_server, unique

pytestmark = pytest.mark.slow


def _hammer(servers: list[Server], customer_id: str, threads: int, per_thread: int) -> None:
    def work(index: int) -> None:
        client = servers[index % len(servers)].client(max_retries=5)
        for _ in range(per_thread):
            client.customers.credits.ledger.create_entry(
                customer_id, entry_type="decrement", amount=1
            )

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))


def _assert_ledger(server: Server, customer_id: str) -> None:
    client = server.client()
    entries = list(client.customers.credits.ledger.list(customer_id, limit=100))
    decrements = [e for e in entries if e.entry_type == "decrement"]
    assert len(decrements) == 400
    seqs = [e.ledger_sequence_number for e in entries]
    assert sorted(seqs) == list(range(1, 402))
    assert entries[0].ending_balance == 600
    assert [b.balance for b in client.customers.credits.list(customer_id)] == [600]
    with server.engine.connect() as conn:
        dupes = conn.execute(
            text(
                "SELECT seq, count(*) FROM ledger_entries WHERE customer_id = :c "
                "GROUP BY seq HAVING count(*) > 1"
            ),
            {"c": customer_id},
        ).all()
    assert dupes == []


def test_sixteen_threads_of_decrements_lose_nothing(server: Server) -> None:
    client = server.client()
    customer = client.customers.create(name="Busy", email="b@example.com")
    client.customers.credits.ledger.create_entry(customer.id, entry_type="increment", amount=1000)
    _hammer([server], customer.id, threads=16, per_thread=25)
    _assert_ledger(server, customer.id)


def test_two_server_processes_share_one_postgres(database_factory) -> None:
    url = database_factory("postgres")
    servers = [start_server(url), start_server(url)]
    try:
        client = servers[0].client()
        customer = client.customers.create(
            name="Shared", email="s@example.com", external_customer_id=unique()
        )
        client.customers.credits.ledger.create_entry(
            customer.id, entry_type="increment", amount=1000
        )
        _hammer(servers, customer.id, threads=16, per_thread=25)
        _assert_ledger(servers[1], customer.id)
    finally:
        for srv in servers:
            stop_server(srv)


def test_many_customers_proceed_in_parallel(server: Server) -> None:
    client = server.client(max_retries=5)
    ids = [client.customers.create(name=f"P{i}", email="p@example.com").id for i in range(8)]
    for cid in ids:
        client.customers.credits.ledger.create_entry(cid, entry_type="increment", amount=100)

    def work(cid: str) -> None:
        for _ in range(10):
            client.customers.credits.ledger.create_entry(cid, entry_type="decrement", amount=1)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(work, ids))
    balances = Counter(client.customers.credits.list(cid).data[0].balance for cid in ids)
    assert balances == Counter({90: 8})


@pytest.mark.parametrize("attempts", [8])
def test_idempotent_entry_race_writes_once(server: Server, attempts: int) -> None:
    client = server.client(max_retries=8)
    customer = client.customers.create(name="Idem", email="i@example.com")
    key = unique("entry")

    def post(_: int) -> str:
        return client.customers.credits.ledger.with_raw_response.create_entry(
            customer.id, entry_type="increment", amount=10, idempotency_key=key
        ).text

    with concurrent.futures.ThreadPoolExecutor(attempts) as pool:
        bodies = set(pool.map(post, range(attempts)))
    assert len(bodies) == 1
    entries = list(client.customers.credits.ledger.list(customer.id))
    assert len(entries) == 1 and entries[0].ending_balance == 10


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_worker_processes_share_one_database(database_factory, backend: str) -> None:
    server = start_server(database_factory(backend), env={"DRAWDOWN_WORKERS": "2"})
    try:
        client = server.client()
        customer = client.customers.create(name="Workers", email="w@example.com")
        client.customers.credits.ledger.create_entry(customer.id, entry_type="increment",
                                                     amount=1000)  # fmt: skip
        _hammer([server], customer.id, threads=16, per_thread=25)
        _assert_ledger(server, customer.id)
    finally:
        stop_server(server)
