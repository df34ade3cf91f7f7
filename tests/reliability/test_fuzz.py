"""schemathesis against the whole OpenAPI document, through a real running server.

Cases are drawn from every operation of `/v1/openapi.json` (as the server serves it), half
from schema-valid data and half from schema-violating data; most path ids are replaced by
ids of customers, blocks, top-ups, invoices and alerts seeded first, so requests reach the business
rules instead of stopping at 404. Every response must be no 5xx, have a documented status,
content type and headers, and match its documented schema.

Short mode (CI): `FUZZ_REQUESTS_SHORT` cases per backend. Long mode: `DRAWDOWN_LONG=1`
(`DRAWDOWN_FUZZ_REQUESTS` to change the count, default 10,000 per backend); its last figures
are in docs/reliability.md ("Fuzzing").
"""

from __future__ import annotations

import collections
import math
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orb
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import Server, start_server, stop_server, unique

pytestmark = pytest.mark.slow

LONG = os.environ.get("DRAWDOWN_LONG") == "1"
FUZZ_REQUESTS_SHORT = 200
REQUESTS = int(os.environ.get("DRAWDOWN_FUZZ_REQUESTS") or 10_000) if LONG else FUZZ_REQUESTS_SHORT

# What "0 5xx, 0 schema violations" means. Not checked, on purpose: schemathesis's
# positive/negative data acceptance (valid-looking requests are refused by business rules;
# blank query parameters are dropped as the Node SDK's nulls, docs/rules.md §1.7), and its 405 for
# an undeclared method (drawdown answers Orb's 404 url-not-found, docs/rules.md §1.8).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Seeded:
    """Ids that exist on the server, per path parameter."""

    ids: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))


def seed(server: Server) -> Seeded:
    """Customers with blocks, entries of every kind, invoices and top-ups to fuzz against."""
    client = server.client()
    seeded = Seeded()
    for n in range(4):
        external = unique("fuzz/ext") if n % 2 else unique("fuzz")
        customer = client.customers.create(
            name=f"Fuzz {n}", email=f"fuzz{n}@example.com", external_customer_id=external,
            currency="USD",
        )  # fmt: skip
        seeded.ids["customer_id"].append(customer.id)
        seeded.ids["external_customer_id"].append(external)
        ledger = client.customers.credits.ledger
        plain = ledger.create_entry(
            customer.id,
            entry_type="increment",
            amount=100,
            expiry_date="2099-01-01",
            per_unit_cost_basis="0.10",
        )
        bought = ledger.create_entry(
            customer.id, entry_type="increment", amount=50, per_unit_cost_basis="0.20",
            invoice_settings={"auto_collection": False, "net_terms": 30},
        )  # fmt: skip
        pending = ledger.create_entry(
            customer.id, entry_type="increment", amount=10, effective_date="2099-01-01"
        )
        ledger.create_entry(customer.id, entry_type="decrement", amount=30)
        ledger.create_entry(
            customer.id, entry_type="void", block_id=plain.credit_block.id, amount=5
        )
        ledger.create_entry(
            customer.id,
            entry_type="expiration_change",
            amount=10,
            block_id=plain.credit_block.id,
            target_expiry_date="2098-01-01",
        )
        seeded.ids["block_id"] += [
            plain.credit_block.id,
            bought.credit_block.id,
            pending.credit_block.id,
        ]
        invoices = getattr(bought, "created_invoices", None) or []
        seeded.ids["invoice_id"] += [invoice.id for invoice in invoices]
        note = client.credit_notes.create(
            line_items=[{"invoice_line_item_id": invoices[0].line_items[0].id, "amount": "1"}],
            reason="duplicate",
        )
        seeded.ids["credit_note_id"].append(note.id)
        client.customers.balance_transactions.create(customer.id, amount="5", type="increment")
        top_up = client.customers.credits.top_ups.create(
            customer.id, currency="credits", threshold="10", amount="100",
            per_unit_cost_basis="0.10",
            invoice_settings={"auto_collection": False, "net_terms": 0},
        )  # fmt: skip
        seeded.ids["top_up_id"].append(top_up.id)
        alerts = [
            client.alerts.create_for_customer(customer.id, currency="credits", type=kind)
            for kind in ("credit_balance_depleted", "credit_balance_recovered")
        ]
        seeded.ids["alert_configuration_id"] += [alert.id for alert in alerts]
    _seed_catalogue(client, seeded)
    return seeded


def _seed_catalogue(client: orb.Orb, seeded: Seeded) -> None:
    """An item, a billable metric and a price of it, so catalogue cases reach their rules."""
    item = client.items.create(name="Fuzz item")
    sql = "SELECT SUM(n) FROM events WHERE event_name = 'fuzz' AND region = 'eu'"
    metric = client.metrics.create(name="Fuzz", sql=sql, item_id=item.id, description=None)
    alias = unique("fuzz-price")
    price = client.prices.create(
        cadence="monthly", currency="credits", item_id=item.id, model_type="unit", name="Fuzz",
        unit_config={"unit_amount": "0.5"}, billable_metric_id=metric.id, external_price_id=alias,
    )  # fmt: skip
    seeded.ids["item_id"].append(item.id)
    seeded.ids["metric_id"].append(metric.id)
    seeded.ids["price_id"].append(price.id)
    seeded.ids["external_price_id"].append(alias)


def _victim_customer(client: orb.Orb, _customer_id: str) -> str:
    return str(client.customers.create(name="Victim", email="victim@example.com").id)


def _victim_block(client: orb.Orb, customer_id: str) -> str:
    entry = client.customers.credits.ledger.create_entry(
        customer_id, entry_type="increment", amount=5
    )
    return str(entry.credit_block.id)


def _victim_alert(client: orb.Orb, customer_id: str) -> str:
    alert = client.alerts.create_for_customer(
        customer_id, currency=unique("unit"), type="credit_balance_dropped",
        thresholds=[{"value": 5}],
    )  # fmt: skip
    return str(alert.id)


# Deletions get a resource made for them, most of the time, so the seed stays.
VICTIMS = {
    "DELETE /customers/{customer_id}": ("customer_id", _victim_customer),
    "DELETE /credit_blocks/{block_id}": ("block_id", _victim_block),
    "DELETE /alerts/{alert_configuration_id}": ("alert_configuration_id", _victim_alert),
}


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def fuzz_server(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[Server]:
    """A server of its own: fuzzing deletes and rewrites what it finds."""
    srv = start_server(database_factory(request.param))
    yield srv
    stop_server(srv)


@dataclass
class Tally:
    requests: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    by_operation: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)

    @property
    def operations(self) -> set[str]:
        return {label for label, _ in self.by_operation}


def test_schemathesis_full_schema(fuzz_server: Server) -> None:
    url = fuzz_server.base_url + "/openapi.json"
    valid = schemathesis.openapi.from_url(url)
    # Schema-valid cases without U+0000 (schemathesis's default allows it in any string, and
    # §1.2 refuses it: a 400 at the edge, covered by the invalid half and the bad-input
    # suite) and with the real key, so that they get to the business rules.
    valid.config.generation.update(allow_x00=False, with_security_parameters=False)
    invalid = schemathesis.openapi.from_url(url)
    seeded = seed(fuzz_server)
    client, customers = fuzz_server.client(), seeded.ids["customer_id"]
    assert len(seeded.ids["invoice_id"]) == 4  # the seed reached invoices too
    session = requests.Session()
    origin = fuzz_server.base_url.removesuffix("/v1")
    tally = Tally()
    operations = [
        (path, method.upper())
        for path, methods in requests.get(url, timeout=10).json()["paths"].items()
        for method in methods
    ]
    # A little over the share, as a few operations (the ping) run out of distinct cases.
    per_operation = max(3, math.ceil(REQUESTS * 1.15 / len(operations)))
    # Choices around the generated case are not Hypothesis's: its draws favour the edges.
    rng = random.Random(None if LONG else 0)

    def send(case: schemathesis.Case) -> None:
        for name in case.path_parameters or {}:
            known = seeded.ids.get(name)
            if known and rng.random() < 0.8:
                case.path_parameters[name] = rng.choice(known)
        victim = VICTIMS.get(case.operation.label)
        if victim is not None and rng.random() < 0.8:  # keep the seeded ones alive
            case.path_parameters[victim[0]] = victim[1](client, rng.choice(customers))
        headers = case.headers if case.headers is not None else {}
        # Mostly the real key (schemathesis generates random or missing ones: a 401) and a
        # fresh Idempotency-Key (generated ones repeat across bodies: a 409), so that most
        # cases get past the edge to the business rules.
        real_key = rng.random() < 0.95
        if real_key:
            headers["Authorization"] = f"Bearer {fuzz_server.api_key}"
        if case.method == "POST" and rng.random() < 0.8:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        case.headers = headers
        # Sent directly: `case.call` drops the header from cases generated without one.
        request = case.as_transport_kwargs(base_url=origin + "/v1")
        if real_key:
            request.setdefault("headers", {})["Authorization"] = headers["Authorization"]
        response = session.request(**request, timeout=30)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        tally.by_operation[case.operation.label, response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    started = time.monotonic()
    for path, method in operations:  # each operation gets its share of the cases
        cases = st.one_of(
            valid[path][method].as_strategy(GenerationMode.POSITIVE),
            invalid[path][method].as_strategy(GenerationMode.NEGATIVE),
        )
        fuzz = settings(
            max_examples=per_operation,
            deadline=None,
            database=None,
            derandomize=not LONG,  # CI runs the same cases every time
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the server moved on
            suppress_health_check=list(HealthCheck),
        )(given(case=cases)(send))
        fuzz()
    elapsed = time.monotonic() - started
    print(
        f"\nfuzzed {tally.requests} requests over {len(tally.operations)} operations in "
        f"{elapsed:.1f} s; statuses {dict(sorted(tally.statuses.items()))}"
    )
    if LONG:
        for (label, status), count in sorted(tally.by_operation.items()):
            print(f"  {label}: {status} x{count}")
    assert tally.requests >= REQUESTS
    assert not [s for s in tally.statuses if s >= 500]
    assert len(tally.operations) == len(operations)
    assert sum(n for s, n in tally.statuses.items() if 200 <= s < 300) >= tally.requests * 0.1
