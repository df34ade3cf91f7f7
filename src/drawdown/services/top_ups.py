"""Top-ups (auto-recharge): create, list, delete, and firing (§2.4, R-TOP-*).

Firing is evaluated inside the customer's write transaction, after the triggering
operation, so concurrent decrements can never fire a top-up twice: they are
serialized by the customer lock and each sees the previous one's top-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from drawdown.ledger import commands, drawable_balance
from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.dates import add_days_local, add_months_local, resolve_instant
from drawdown.services import invoices
from drawdown.services.context import ServiceContext
from drawdown.services.customers import CustomerRef, find
from drawdown.services.entry_requests import ledger_currency
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.services.write_path import (
    CustomerTx,
    customer_transaction,
    run_command,
)
from drawdown.store import invoices as invoice_store
from drawdown.store import ledger as ledger_store
from drawdown.store import top_ups as store
from drawdown.store.engine import read_transaction

ACTIVE_FROM_PAST_DAYS_MAX = 10
# Block lifetimes stay far inside what datetime can represent when a top-up fires.
EXPIRES_AFTER_MAX = {"day": 36_500, "month": 1_200}


def create_top_up(ctx: ServiceContext, ref: CustomerRef, fields: Mapping[str, Any]) -> RowMapping:
    """E14/E15: replaces the customer's active top-up for that currency (R-TOP-1)."""
    with customer_transaction(ctx, ref) as tx:
        values = _values(tx, fields)
        for old in store.active_for(tx.conn, tx.customer_id, values["currency"]):
            store.deactivate(tx.conn, tx.customer_id, old["id"], tx.now)
        store.insert(tx.conn, values)
        tx.lowered.add(values["currency"])  # R-TOP-3: evaluate right after creation
        created = store.get(tx.conn, tx.customer_id, values["id"])
        assert created is not None
        return created


def _values(tx: CustomerTx, fields: Mapping[str, Any]) -> dict[str, Any]:
    invoices.require_currency(tx.customer, "currency")
    settings = fields["invoice_settings"]
    amount = _decimal_string(fields["amount"], "amount")
    threshold = _decimal_string(fields["threshold"], "threshold")
    cost_basis = _decimal_string(fields["per_unit_cost_basis"], "per_unit_cost_basis")
    if amount <= 0:
        raise InvalidField("amount", "must be greater than 0")
    if threshold < 0:
        raise InvalidField("threshold", "must be greater than or equal to 0")
    if cost_basis < 0:
        raise InvalidField("per_unit_cost_basis", "must be greater than or equal to 0")
    # Checked now, because a bad value would only fail later, inside whichever write fires it.
    invoices.check_net_terms(settings["net_terms"], "invoice_settings.net_terms")
    return {
        "customer_id": tx.customer_id, "id": tx.ctx.new_id(),
        "currency": ledger_currency(tx.customer, fields["currency"]),
        "amount": fields["amount"], "threshold": fields["threshold"],
        "per_unit_cost_basis": fields["per_unit_cost_basis"],
        "auto_collection": settings["auto_collection"], "net_terms": settings["net_terms"],
        "memo": settings.get("memo"),
        # §2.4: absent or null means the documented default, false; echoed as stored.
        "require_successful_payment": bool(settings.get("require_successful_payment")),
        "active_from": _active_from(tx, fields.get("active_from")),
        **_expiry(fields), "created_at": tx.now, "deactivated_at": None,
    }  # fmt: skip


def _decimal_string(value: Any, field: str) -> Decimal:
    if not isinstance(value, str):
        raise InvalidField(field, "must be a decimal string")
    return to_decimal(value, field=field)


def _active_from(tx: CustomerTx, raw: str | None) -> Any:
    if raw is None:
        return tx.now
    active_from = resolve_instant(raw, tx.customer["timezone"], field="active_from")
    if active_from < tx.now - timedelta(days=ACTIVE_FROM_PAST_DAYS_MAX):
        raise InvalidField(
            "active_from", f"must not be more than {ACTIVE_FROM_PAST_DAYS_MAX} days in the past"
        )
    return active_from


def _expiry(fields: Mapping[str, Any]) -> dict[str, Any]:
    after, unit = fields.get("expires_after"), fields.get("expires_after_unit")
    if (after is None) != (unit is None):
        raise InvalidField(
            "expires_after_unit" if unit is None else "expires_after",
            "expires_after and expires_after_unit must be given together",
        )
    if after is not None and after <= 0:
        raise InvalidField("expires_after", "must be greater than 0")
    limit = EXPIRES_AFTER_MAX.get(str(unit))
    if after is not None and limit is not None and after > limit:
        raise InvalidField("expires_after", f"must be at most {limit} {unit}s")
    return {"expires_after": after, "expires_after_unit": unit}


def list_top_ups(
    ctx: ServiceContext, ref: CustomerRef, after: tuple[datetime, str] | None, limit: int
) -> list[RowMapping]:
    with read_transaction(ctx.engine) as conn:
        customer = find(conn, ref)
        return store.list_active(conn, customer["id"], after, limit)


def delete_top_up(ctx: ServiceContext, ref: CustomerRef, top_up_id: str) -> None:
    """E18/E19: deactivate and void its unpaid pending invoices (R-TOP-7)."""
    with customer_transaction(ctx, ref) as tx:
        deactivate(tx, top_up_id, void_invoices=True)


def deactivate(tx: CustomerTx, top_up_id: str, *, void_invoices: bool) -> None:
    row = store.get(tx.conn, tx.customer_id, top_up_id)
    if row is None or row["deactivated_at"] is not None:
        if void_invoices:
            raise ResourceNotFound("TopUp", top_up_id)
        return
    store.deactivate(tx.conn, tx.customer_id, top_up_id, tx.now)
    if void_invoices:
        for invoice in invoice_store.issued_for_top_up_pending(tx.conn, tx.customer_id, top_up_id):
            block = ledger_store.find_block(tx.conn, invoice["block_id"])
            if block is not None and block["status"] == "pending_payment":
                invoices.void_in(tx, invoice)


# --- firing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Armed:
    top_up: RowMapping
    threshold: Decimal


def evaluate(tx: CustomerTx, currency: str) -> None:
    """R-TOP-2/3: if armed and the drawable balance is at or below threshold, fire once."""
    armed = _armed(tx, currency)
    if armed is None:
        return
    state = ledger_store.load_state(tx.conn, tx.customer_id, currency)
    if drawable_balance(state, tx.now) <= armed.threshold:
        fire(tx, armed.top_up)


def _armed(tx: CustomerTx, currency: str) -> _Armed | None:
    rows = store.active_for(tx.conn, tx.customer_id, currency)
    if not rows or rows[0]["active_from"] > tx.now:
        return None
    top_up = rows[0]
    if top_up["require_successful_payment"] and store.has_pending_block(
        tx.conn, tx.customer_id, top_up["id"]
    ):
        return None
    return _Armed(top_up, Decimal(top_up["threshold"]))


def fire(tx: CustomerTx, top_up: RowMapping) -> None:
    """R-TOP-4: an increment with the top-up's amount, cost basis, expiry and invoice."""
    amount, cost_basis = Decimal(top_up["amount"]), Decimal(top_up["per_unit_cost_basis"])
    terms = invoices.InvoiceTerms(
        quantity=amount,
        unit_amount=cost_basis,
        auto_collection=top_up["auto_collection"],
        invoice_date=tx.now,
        due_date=add_days_local(tx.now, top_up["net_terms"], tx.customer["timezone"]),
        memo=top_up["memo"],
        item_id=None,
        mark_as_paid=False,
        require_successful_payment=bool(top_up["require_successful_payment"]),
    )
    _, block_status = invoices.status_for(tx.customer, terms)
    block_id, invoice_id = tx.ctx.new_id(), tx.ctx.new_id()
    invoices.create_invoice(
        tx,
        invoice_id,
        terms,
        block_id=block_id,
        ledger_currency=top_up["currency"],
        top_up_id=top_up["id"],
    )
    command = commands.Increment(
        block_id=block_id,
        entry_id=tx.ctx.new_id(),
        amount=amount,
        effective_date=tx.now,
        expiry_date=_block_expiry(tx, top_up),
        per_unit_cost_basis=cost_basis,
        filters=(),
        metadata={},
        description="Top-up",
        status=block_status,
        source="top_up",
        invoice_id=invoice_id,
        top_up_id=top_up["id"],
    )
    run_command(tx, top_up["currency"], command)


def _block_expiry(tx: CustomerTx, top_up: RowMapping) -> Any:
    after, unit, tz = top_up["expires_after"], top_up["expires_after_unit"], tx.customer["timezone"]
    if after is None:
        return None
    if unit == "month":
        return add_months_local(tx.now, after, tz)
    return add_days_local(tx.now, after, tz)
