"""Small helpers shared by the per-rule integration tests (tests/api/test_rules_*.py)."""

from __future__ import annotations

from typing import Any

import orb
import pytest

from conftest import Server, unique

ERROR_PREFIX = "https://docs.withorb.com/reference/error-responses#"


def customer(client: orb.Orb, **kwargs: Any) -> orb.types.Customer:
    kwargs.setdefault("external_customer_id", unique())
    return client.customers.create(name="Rules", email="rules@example.com", **kwargs)


def increment(client: orb.Orb, customer_id: str, amount: float, **kwargs: Any) -> Any:
    return client.customers.credits.ledger.create_entry(
        customer_id, entry_type="increment", amount=amount, **kwargs
    )


def decrement(client: orb.Orb, customer_id: str, amount: float, **kwargs: Any) -> Any:
    return client.customers.credits.ledger.create_entry(
        customer_id, entry_type="decrement", amount=amount, **kwargs
    )


def purchase(client: orb.Orb, customer_id: str, amount: float, cost: str, **settings: Any) -> Any:
    """An increment with invoice_settings (net_terms 0 unless overridden)."""
    invoice_settings = {"auto_collection": False, "net_terms": 0, **settings}
    if "custom_due_date" in settings:
        invoice_settings.pop("net_terms")
    return increment(
        client,
        customer_id,
        amount,
        per_unit_cost_basis=cost,
        invoice_settings=invoice_settings,
    )


def rejected(
    server: Server, error: type[orb.APIStatusError], suffix: str, call: Any, *args: Any, **kw: Any
) -> dict[str, Any]:
    """Run `call`, expect `error` with type `suffix`, and prove that nothing was written."""
    before = server.snapshot()
    with pytest.raises(error) as info:
        call(*args, **kw)
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == ERROR_PREFIX + suffix, body
    assert server.snapshot() == before
    return body


def raw_rejected(
    server: Server, method: str, path: str, status: int, suffix: str, **kw: Any
) -> Any:
    """The raw-HTTP twin of `rejected`, for requests the SDK cannot express."""
    before = server.snapshot()
    with server.http() as http:
        response = http.request(method, path, **kw)
    assert response.status_code == status, response.text
    assert response.json()["type"] == ERROR_PREFIX + suffix, response.text
    assert server.snapshot() == before
    return response.json()
