"""Balance alerts cost a write nothing unless the customer has some: the customer row the
write already holds says so. With alerts, one read of them per write (plus the state of
each changed ledger that has any), in the write's own transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from drawdown.services import balance_alerts, customers
from drawdown.services.context import ServiceContext
from drawdown.services.credits import entries
from drawdown.services.entry_input import entry_request
from drawdown.services.webhooks import endpoints
from drawdown.services.write_path import CustomerRef
from support.contexts import make_context

READS_ALERTS = re.compile(r"\bFROM alerts\b")
READS_STATE = re.compile(r"\bFROM balance_alert_status\b")


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[ServiceContext, list[str]]]:
    ctx = make_context(f"sqlite:///{tmp_path / 'd.db'}")
    statements: list[str] = []

    @event.listens_for(ctx.db.engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    ctx.db.engine.dispose()  # reconnect so every connection is traced
    yield ctx, statements
    ctx.keys.stop()
    ctx.db.close()


def _decrement(ctx: ServiceContext, customer_id: str, amount: int) -> None:
    fields = entry_request({"entry_type": "decrement", "amount": Decimal(amount)})
    entries.create_entry(CustomerRef(id=customer_id), fields).run(ctx)


def test_a_write_reads_alerts_only_for_a_customer_that_has_some(traced: Any) -> None:
    ctx, statements = traced
    endpoints.add_endpoint(ctx, "http://127.0.0.1:9/hooks", None, [])  # every event wanted
    plain = customers.create_customer({"name": "P", "email": "p@x.test"}).run(ctx)
    alerted = customers.create_customer({"name": "A", "email": "a@x.test"}).run(ctx)
    ref = CustomerRef(id=alerted.id)
    balance_alerts.create_alert(ref, balance_alerts.NewAlert("credits", "credit_balance_depleted")
                                ).run(ctx)  # fmt: skip
    statements.clear()
    _decrement(ctx, plain.id, 1)
    assert not [s for s in statements if READS_ALERTS.search(s) or READS_STATE.search(s)]
    statements.clear()
    _decrement(ctx, alerted.id, 1)
    assert len([s for s in statements if READS_ALERTS.search(s)]) == 1
    assert len([s for s in statements if READS_STATE.search(s)]) == 1
    # Deleting the last alert clears the flag: the next write reads nothing again.
    [alert] = balance_alerts.list_alerts(ctx, ref, [], None, 10)
    balance_alerts.delete_alert(ref, alert.alert.id).run(ctx)
    statements.clear()
    _decrement(ctx, alerted.id, 1)
    assert not [s for s in statements if READS_ALERTS.search(s) or READS_STATE.search(s)]
