"""The schema stays shardable by customer (docs/scaling.md), and writes touch one customer.

A distributed PostgreSQL such as Citus shards tables by one column and needs every primary
key and unique constraint to include it; a transaction stays on one node when all its rows
share that value. So: every table holding customer data is keyed by `customer_id` first
(the customers table by `id`, which is the customer id), unique constraints include it,
foreign keys between them carry it, and each write job touches exactly one customer's rows.
Tables that are not per customer are listed below with the reason they may be global.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, UniqueConstraint, event

from drawdown.services import balance_alerts, customers
from drawdown.services.billing import invoices, top_ups
from drawdown.services.credits import blocks, entries
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store import committer as committer_module
from drawdown.store.schema import metadata
from support.contexts import make_context

GLOBAL_TABLES = {
    "api_keys": "server configuration, read into memory; never written by customer requests",
    "admin_users": "console accounts",
    "server_secrets": "console signing key",
    "signin_failures": "console sign-in throttle",
    "customer_external_ids": "the alias index, keyed by the external id itself (one row per"
    " alias): uniqueness of an alias across customers needs a table keyed by it",
    "idempotency_keys": "keyed by (API key, Idempotency-Key): one row per request, no hot row",
    "webhook_endpoints": "server configuration (where events are sent), cached in every"
    " process; never written by customer requests",
    "usage_items": "the price catalogue's items: small, global, read whole by every deduction",
    "usage_prices": "the price catalogue's versioned prices: small, global, read whole by "
    "every deduction",
    "usage_metrics": "the price catalogue's billable metrics: small, global, copied into the "
    "price versions that count them",
    "usage_backfills": "backfills may span every customer (customer_id null); their events are "
    "rows of usage_events under each customer, changed by one job per customer",
    "server_processes": "the serving processes of the database (`drawdown status`): one row"
    " per process, renewed every few seconds by the process itself",
    "command_runs": "the last run of an operator's command (`drawdown verify`): one row each",
    "counters": "SQLite's invoice-number counter (SQLite serializes writers anyway); on "
    "PostgreSQL invoice numbers come from the invoice_numbers sequence",
}


def _per_customer(table: Table) -> bool:
    return table.name == "customers" or (
        "customer_id" in table.c and table.name not in GLOBAL_TABLES
    )


def _shard_key(table: Table) -> str:
    return "id" if table.name == "customers" else "customer_id"


def test_every_table_is_per_customer_or_declared_global() -> None:
    undeclared = [t.name for t in metadata.sorted_tables if not _per_customer(t)]
    assert sorted(undeclared) == sorted(GLOBAL_TABLES)


@pytest.mark.parametrize("table", [t for t in metadata.sorted_tables if _per_customer(t)],
                         ids=lambda t: t.name)  # fmt: skip
def test_per_customer_tables_are_keyed_by_customer_first(table: Table) -> None:
    key = _shard_key(table)
    assert next(c.name for c in table.primary_key.columns) == key
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    for unique in uniques:
        assert key in unique.columns, f"{unique.name} does not include {key}"
    for index in table.indexes:
        if index.unique:
            assert key in index.columns, f"unique index {index.name} does not include {key}"
    for foreign in table.foreign_keys:
        target = foreign.column.table
        if _per_customer(target):
            local = [e.parent.name for e in foreign.constraint.elements]
            assert local[0] == "customer_id", f"{foreign.constraint.name} is not co-located"


# --- every write job touches one customer --------------------------------------------------

_WRITE = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", re.IGNORECASE)
_INSERT_KEY = re.compile(r"VALUES\s*\('([^']*)'", re.IGNORECASE)
_WHERE_CUSTOMER_ID = re.compile(r"WHERE .*?\bcustomer_id = '([^']*)'", re.IGNORECASE | re.DOTALL)
_WHERE_ID = re.compile(r"WHERE .*?\bid = '([^']*)'", re.IGNORECASE | re.DOTALL)
_TABLES = {t.name: t for t in metadata.sorted_tables}


class Recorder:
    """Statements the writer connection executed, grouped by committer job."""

    def __init__(self) -> None:
        self.jobs: list[list[str]] = []
        self._current: list[str] | None = None

    def statement(self, sql: str) -> None:
        if self._current is not None:
            self._current.append(sql)

    def start(self) -> None:
        self._current = []

    def end(self) -> None:
        if self._current is not None:
            self.jobs.append(self._current)
        self._current = None


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Recorder]]:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    ctx = make_context(f"sqlite:///{tmp_path / 'd.db'}", lambda: clock[0])
    recorder = Recorder()

    @event.listens_for(ctx.db.engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(recorder.statement)

    ctx.db.engine.dispose()  # reconnect so every connection is traced
    run_job = committer_module._run_job

    def traced(tx: Any, job: Any) -> Any:
        recorder.start()
        try:
            return run_job(tx, job)
        finally:
            recorder.end()

    monkeypatch.setattr(committer_module, "_run_job", traced)
    yield ctx, recorder, clock
    ctx.db.close()


def _workload(ctx: Any, clock: list[datetime]) -> None:
    """A customer's whole life: every kind of write drawdown does for one customer."""
    customer = customers.create_customer(
        {"name": "A", "email": "a@example.com", "currency": "USD", "external_customer_id": "a"}
    ).run(ctx)
    ref = CustomerRef(id=customer.id)
    expiry = (clock[0] + timedelta(days=2)).isoformat()
    bought = entries.create_entry(ref, entry_request({
        "entry_type": "increment", "amount": Decimal(100), "per_unit_cost_basis": "0.5",
        "expiry_date": expiry,
        "invoice_settings": {"auto_collection": False, "net_terms": 0,
                             "require_successful_payment": True},
    })).run(ctx)  # fmt: skip
    assert bought.invoice is not None
    invoices.mark_paid(ref, bought.invoice.id, invoices.Payment("2026-01-01")).run(ctx)
    free = entries.create_entry(
        ref, entry_request({"entry_type": "increment", "amount": Decimal(50)})
    ).run(ctx)
    top_ups.create_top_up(ref, top_ups.NewTopUp(
        currency="credits", amount="20", threshold="10", per_unit_cost_basis="1",
        invoice_settings=top_ups.TopUpInvoicing(auto_collection=False, net_terms=0),
    )).run(ctx)  # fmt: skip
    alert = balance_alerts.create_alert(ref, balance_alerts.NewAlert(
        "credits", "credit_balance_dropped", [Decimal(30)])).run(ctx)  # fmt: skip
    entries.create_entry(
        ref, entry_request({"entry_type": "decrement", "amount": Decimal(140)})
    ).run(ctx)
    balance_alerts.set_enabled(ref, alert.alert.id, False).run(ctx)
    block = bought.block.id
    entries.create_entry(ref, entry_request({"entry_type": "void", "block_id": free.block.id,
                                             "amount": Decimal(5)})).run(ctx)  # fmt: skip
    entries.create_entry(ref, entry_request({"entry_type": "amendment", "block_id": block,
                                             "amount": Decimal(3)})).run(ctx)  # fmt: skip
    entries.create_entry(ref, entry_request({"entry_type": "expiration_change", "block_id": block,
                                             "target_expiry_date": "2026-01-05"})
                         ).run(ctx)  # fmt: skip
    blocks.update_metadata(ref, free.block.id, {"k": "v"}).run(ctx)
    clock[0] += timedelta(days=10)
    entries.create_entry(ref, entry_request({"entry_type": "decrement", "amount": Decimal(1)})).run(
        ctx
    )
    blocks.delete_block(ref, free.block.id).run(ctx)
    customers.update_customer(ref, {"name": "B"}).run(ctx)


def test_every_write_job_touches_one_customer(recorded: Any) -> None:
    ctx, recorder, clock = recorded
    _workload(ctx, clock)
    assert len(recorder.jobs) >= 12
    written = 0
    for statements in recorder.jobs:
        keys = set()
        for sql in statements:
            write = _WRITE.match(sql)
            if write is None:
                continue
            table = _TABLES[write.group(2)]
            if not _per_customer(table):
                assert table.name in GLOBAL_TABLES
                continue
            if write.group(1).upper().startswith("INSERT"):
                pattern = _INSERT_KEY
            else:
                pattern = _WHERE_ID if table.name == "customers" else _WHERE_CUSTOMER_ID
            found = pattern.search(sql)
            assert found is not None, f"a write without its customer key: {sql[:200]}"
            keys.add(found.group(1))
            written += 1
        assert len(keys) <= 1, f"one job wrote to several customers: {keys}"
    assert written > 40  # the workload really wrote through the traced connection
