"""Orb's credits surface, method by method (issue 19): every SDK method the README's table
says drawdown serves is called here through the official Python SDK with
`_strict_response_validation=True` (so every response matches the SDK's model, field for
field), on SQLite and PostgreSQL. The areas' own test files check what each method does;
this file checks that none of them is missing or answers a shape the SDK refuses.
"""

from __future__ import annotations

from typing import Any

import orb
import pytest
from surface_calls import Recording, call_every_served_method

from conftest import Server

SERVED = {
    "top_level.ping",
    "customers.create", "customers.list", "customers.fetch", "customers.fetch_by_external_id",
    "customers.update", "customers.update_by_external_id", "customers.delete",
    "customers.credits.list", "customers.credits.list_by_external_id",
    "customers.credits.ledger.list", "customers.credits.ledger.list_by_external_id",
    "customers.credits.ledger.create_entry",
    "customers.credits.ledger.create_entry_by_external_id",
    "customers.credits.top_ups.create", "customers.credits.top_ups.create_by_external_id",
    "customers.credits.top_ups.list", "customers.credits.top_ups.list_by_external_id",
    "customers.credits.top_ups.delete", "customers.credits.top_ups.delete_by_external_id",
    "customers.costs.list", "customers.costs.list_by_external_id",
    "customers.balance_transactions.create", "customers.balance_transactions.list",
    "credit_blocks.retrieve", "credit_blocks.update", "credit_blocks.delete",
    "credit_blocks.list_invoices",
    "invoices.list", "invoices.fetch", "invoices.update", "invoices.mark_paid",
    "invoices.void", "invoices.issue",
    "credit_notes.create", "credit_notes.list", "credit_notes.fetch",
    "alerts.create_for_customer", "alerts.create_for_external_customer", "alerts.list",
    "alerts.retrieve", "alerts.update", "alerts.delete", "alerts.enable", "alerts.disable",
    "events.ingest", "events.update", "events.deprecate", "events.search",
    "events.backfills.create", "events.backfills.list", "events.backfills.fetch",
    "events.backfills.close", "events.backfills.revert", "events.volume.list",
    "items.create", "items.list", "items.fetch", "items.update", "items.archive",
    "metrics.create", "metrics.list", "metrics.fetch", "metrics.update", "metrics.archive",
    "metrics.unarchive",
    "prices.create", "prices.list", "prices.fetch", "prices.update", "prices.evaluate",
    "prices.evaluate_multiple", "prices.evaluate_preview_events",
    "prices.external_price_id.fetch", "prices.external_price_id.update",
}  # fmt: skip


def test_the_readme_table_names_every_served_method_and_the_sdk_has_them() -> None:
    client = orb.Orb(api_key="x", base_url="http://localhost")
    for method in SERVED:
        target: Any = client
        for part in method.split("."):
            target = getattr(target, part)
        assert callable(target), method
    assert (
        len(
            SERVED
            - {
                "top_level.ping",
                "metrics.create",
                "metrics.list",
                "metrics.fetch",
                "metrics.update",
                "metrics.archive",
                "metrics.unarchive",
            }
        )
        == 68
    )


@pytest.fixture
def call(server: Server) -> Recording:
    return Recording(server.client(_strict_response_validation=True))


def test_every_served_method_answers_what_the_sdk_expects(call: Recording) -> None:
    call_every_served_method(call)
    assert call.called == SERVED, sorted(SERVED - call.called)
