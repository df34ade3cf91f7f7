"""Property: a top-up fires exactly at the evaluation points where D ≤ threshold (R-TOP-3).

Runs the real service layer on a real SQLite database, with random decrement sequences.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawdown.ledger import LedgerState, drawable_balance
from drawdown.services import customers
from drawdown.services.billing import top_ups
from drawdown.services.credits import entries, reads
from drawdown.services.entry_input import entry_request
from drawdown.services.write_path import CustomerRef
from drawdown.store import ledger_tables as ledger_store
from support.contexts import make_context

_DIR = Path(tempfile.mkdtemp(prefix="dd-topup-prop-"))
CTX = make_context(f"sqlite:///{_DIR / 'prop.db'}", sqlite_synchronous="OFF")

THRESHOLD = Decimal(20)
TOP_UP = Decimal(100)  # larger than threshold + any single decrement: D recovers above T


def _drawable(customer_id: str) -> Decimal:
    with CTX.db.read() as tx:
        blocks = ledger_store.open_blocks(tx, customer_id, "credits")
    return drawable_balance(LedgerState("credits", blocks), CTX.now())


def _top_up_count(customer_id: str) -> int:
    ref = CustomerRef(id=customer_id)
    query = reads.EntryQuery("credits", "increment", None, None, [], None, 1000)
    return sum(1 for v in reads.list_entries(CTX, ref, query) if v.block.source == "top_up")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(min_value=0, max_value=80),
    spends=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=15),
)
def test_top_up_fires_once_per_evaluation_at_or_below_threshold(
    start: int, spends: list[int]
) -> None:
    customer = customers.create_customer(
        {"name": "Prop", "email": "p@example.com", "currency": "USD"}
    ).run(CTX)
    ref = CustomerRef(id=customer.id)
    if start:
        entries.create_entry(
            ref, entry_request({"entry_type": "increment", "amount": Decimal(start)})
        ).run(CTX)
    top_ups.create_top_up(ref, top_ups.NewTopUp(
        currency="credits", amount=str(TOP_UP), threshold=str(THRESHOLD),
        per_unit_cost_basis="0.01",
        invoice_settings=top_ups.TopUpInvoicing(auto_collection=False, net_terms=0),
    )).run(CTX)  # fmt: skip
    expected = 1 if start <= THRESHOLD else 0  # R-TOP-3: evaluated right after creation
    for spend in spends:
        before = _drawable(customer.id)
        decrement = entry_request({"entry_type": "decrement", "amount": Decimal(spend)})
        entries.create_entry(ref, decrement).run(CTX)
        if before - spend <= THRESHOLD:
            expected += 1
        assert _drawable(customer.id) > THRESHOLD  # never left at or below the threshold
    assert _top_up_count(customer.id) == expected
