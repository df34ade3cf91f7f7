"""Orb's credits surface as calls: every SDK method drawdown serves, called once in a
realistic order through a strict client (`tests/api/test_orb_surface.py` checks the SDK
accepts each answer, `tests/api/test_openapi_responses.py` that the served document does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orb
import pytest

from conftest import unique


class Recording:
    """The strict client, remembering which SDK methods were called."""

    def __init__(self, client: orb.Orb) -> None:
        self.client, self.called = client, set[str]()

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        target: Any = self.client
        for part in method.split("."):
            target = getattr(target, part)
        try:
            result = target(*args, **kwargs)
        except orb.APIStatusError:  # an Orb error the SDK parsed: answered as specified
            self.called.add(method)
            raise
        self.called.add(method)
        return result


def call_every_served_method(call: Recording) -> None:
    """Call each served SDK method at least once, on fresh customers of its own."""
    customer, block_id = _customers_and_ledger(call)
    external = customer.external_customer_id
    _blocks_and_invoices(call, customer, block_id)
    _top_ups_and_balance(call, customer, external)
    _alerts(call, customer, external)
    item, metric, price = _catalogue(call)
    _events(call, customer, price)
    throwaway = call("customers.create", name="Gone", email="g@example.com")
    call("customers.delete", throwaway.id)
    assert item.id and metric.id


def _customers_and_ledger(call: Recording) -> tuple[Any, str]:
    external = unique("surface")
    made = call("customers.create", name="Surface", email="s@example.com",
                external_customer_id=external, currency="USD")  # fmt: skip
    assert call("top_level.ping").response == "pong"
    assert call("customers.fetch", made.id).id == made.id
    assert call("customers.fetch_by_external_id", external).id == made.id
    assert call("customers.update", made.id, name="Surface 2").name == "Surface 2"
    assert call("customers.update_by_external_id", external, metadata={"k": "v"}).metadata == {
        "k": "v"}  # fmt: skip
    assert any(c.id == made.id for c in call("customers.list", limit=100).data)
    bought = call("customers.credits.ledger.create_entry", made.id, entry_type="increment",
                  amount=100, per_unit_cost_basis="0.10",
                  invoice_settings={"auto_collection": False, "net_terms": 0})  # fmt: skip
    call("customers.credits.ledger.create_entry_by_external_id", external,
         entry_type="decrement", amount=5)  # fmt: skip
    assert call("customers.credits.list", made.id).data[0].balance == 95
    assert call("customers.credits.list_by_external_id", external).data[0].balance == 95
    assert len(call("customers.credits.ledger.list", made.id).data) == 2
    assert len(call("customers.credits.ledger.list_by_external_id", external).data) == 2
    return made, bought.credit_block.id


def _blocks_and_invoices(call: Recording, customer: Any, block_id: str) -> None:
    assert call("credit_blocks.retrieve", block_id).id == block_id
    assert call("credit_blocks.update", block_id, metadata={"po": "1"}).metadata == {"po": "1"}
    [invoice] = call("credit_blocks.list_invoices", block_id).invoices
    assert call("invoices.fetch", invoice.id).id == invoice.id
    assert any(i.id == invoice.id for i in call("invoices.list", customer_id=customer.id).data)
    assert call("invoices.update", invoice.id, metadata={"po": "42"}).metadata == {"po": "42"}
    line = call("invoices.fetch", invoice.id).line_items[0].id
    paid = call("invoices.mark_paid", invoice.id, payment_received_date="2026-01-02")
    assert paid.status == "paid"
    note = call("credit_notes.create", reason="duplicate",
                line_items=[{"invoice_line_item_id": line, "amount": "1.00"}])  # fmt: skip
    assert call("credit_notes.fetch", note.id).id == note.id
    assert any(n.id == note.id for n in call("credit_notes.list", limit=100).data)
    with pytest.raises(orb.BadRequestError):  # not a draft: a 400, as E28 says (drafts are
        call("invoices.issue", invoice.id)  # opt-in: tests/api/test_invoice_update_issue.py)
    second = call("customers.credits.ledger.create_entry", customer.id, entry_type="increment",
                  amount=10, per_unit_cost_basis="1",
                  invoice_settings={"auto_collection": False, "net_terms": 0})  # fmt: skip
    assert call("invoices.void", second.created_invoices[0].id).status == "void"
    deficit = call("customers.credits.ledger.create_entry", customer.id, entry_type="increment",
                   amount=1)  # fmt: skip
    call("credit_blocks.delete", deficit.credit_block.id)


def _top_ups_and_balance(call: Recording, customer: Any, external: str) -> None:
    top_up = {"currency": "credits", "amount": "10", "threshold": "1",
              "per_unit_cost_basis": "1",
              "invoice_settings": {"auto_collection": False, "net_terms": 0}}  # fmt: skip
    made = call("customers.credits.top_ups.create", customer.id, **top_up)
    assert [t.id for t in call("customers.credits.top_ups.list", customer.id).data] == [made.id]
    call("customers.credits.top_ups.delete", made.id, customer_id=customer.id)
    again = call("customers.credits.top_ups.create_by_external_id", external, **top_up)
    listed = call("customers.credits.top_ups.list_by_external_id", external).data
    assert [t.id for t in listed] == [again.id]
    call("customers.credits.top_ups.delete_by_external_id", again.id, external_customer_id=external)
    moved = call("customers.balance_transactions.create", customer.id, amount="5.00",
                 type="increment", description="goodwill")  # fmt: skip
    listed_moves = call("customers.balance_transactions.list", customer.id).data
    assert moved.id in [m.id for m in listed_moves]


def _alerts(call: Recording, customer: Any, external: str) -> None:
    dropped = call("alerts.create_for_customer", customer.id, currency="credits",
                   type="credit_balance_dropped", thresholds=[{"value": 10}])  # fmt: skip
    depleted = call("alerts.create_for_external_customer", external, currency="credits",
                    type="credit_balance_depleted")  # fmt: skip
    assert call("alerts.retrieve", dropped.id).id == dropped.id
    assert call("alerts.update", dropped.id, thresholds=[{"value": 20}]).thresholds[0].value == 20
    assert call("alerts.disable", dropped.id).enabled is False
    assert call("alerts.enable", dropped.id).enabled is True
    listed = {a.id for a in call("alerts.list", customer_id=customer.id).data}
    assert listed == {dropped.id, depleted.id}
    call("alerts.delete", depleted.id)


def _catalogue(call: Recording) -> tuple[Any, Any, Any]:
    item = call("items.create", name="Calls")
    assert call("items.fetch", item.id).name == "Calls"
    assert call("items.update", item.id, name="API calls").name == "API calls"
    assert any(i.id == item.id for i in call("items.list", limit=100).data)
    event_name = unique("call")
    metric = call("metrics.create", name="calls", item_id=item.id, description=None,
                  sql=f"SELECT COUNT(*) FROM events WHERE event_name = '{event_name}'")  # fmt: skip
    assert call("metrics.fetch", metric.id).id == metric.id
    assert call("metrics.update", metric.id, metadata={"k": "v"}).metadata == {"k": "v"}
    assert any(m.id == metric.id for m in call("metrics.list", limit=100).data)
    assert call("metrics.archive", metric.id).status == "archived"
    assert call("metrics.unarchive", metric.id).status == "active"
    alias = unique("price")
    price = call("prices.create", cadence="monthly", currency="credits", item_id=item.id,
                 model_type="unit", name="Calls", unit_config={"unit_amount": "0.5"},
                 billable_metric_id=metric.id, external_price_id=alias)  # fmt: skip
    assert call("prices.fetch", price.id).id == price.id
    assert call("prices.update", price.id, metadata={"a": "1"}).metadata == {"a": "1"}
    assert call("prices.external_price_id.fetch", alias).id == price.id
    assert call("prices.external_price_id.update", alias, metadata={"b": "2"}).metadata == {
        "a": "1", "b": "2"}  # fmt: skip
    assert any(p.id == price.id for p in call("prices.list", limit=100).data)
    call("items.archive", call("items.create", name="Old").id)
    return item, metric, price


def _events(call: Recording, customer: Any, price: Any) -> None:
    now = datetime.now(UTC)
    event_name = _event_name_of(call, price)
    key = unique("ev")
    event = {"idempotency_key": key, "event_name": event_name, "timestamp": now.isoformat(),
             "customer_id": customer.id, "properties": {"n": 1}}  # fmt: skip
    assert call("events.ingest", events=[event]).validation_failed == []
    assert call("events.update", key, event_name=event_name, timestamp=now,
                properties={"n": 2}, customer_id=customer.id).amended == key  # fmt: skip
    found = call("events.search", event_ids=[key], timeframe_start=now - timedelta(minutes=5))
    assert [e.id for e in found.data] == [key]
    assert call("events.deprecate", key).deprecated == key
    window = {"timeframe_start": now - timedelta(hours=1),
              "timeframe_end": now + timedelta(minutes=1)}  # fmt: skip
    assert call("prices.evaluate", price.id, customer_id=customer.id, **window).data is not None
    evaluations = [{"price_id": price.id}]
    call("prices.evaluate_multiple", customer_id=customer.id, price_evaluations=evaluations,
         **window)  # fmt: skip
    call("prices.evaluate_preview_events", customer_id=customer.id, price_evaluations=evaluations,
         events=[{**event, "idempotency_key": unique("pv")}], **window)  # fmt: skip
    call("customers.costs.list", customer.id)
    call("customers.costs.list_by_external_id", customer.external_customer_id)
    call("events.volume.list", timeframe_start=now - timedelta(hours=2))
    start = now - timedelta(hours=3)
    backfill = call("events.backfills.create", timeframe_start=start,
                    timeframe_end=start + timedelta(hours=1), customer_id=customer.id)  # fmt: skip
    assert call("events.backfills.fetch", backfill.id).id == backfill.id
    assert backfill.id in [b.id for b in call("events.backfills.list").data]
    assert call("events.backfills.close", backfill.id).status == "reflected"
    assert call("events.backfills.revert", backfill.id).status == "reverted"


def _event_name_of(call: Recording, price: Any) -> str:
    sql = call.client.metrics.fetch(price.billable_metric.id).sql
    return str(sql.rsplit("'", 2)[1])
