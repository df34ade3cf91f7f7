"""Top-ups (auto-recharge): create, list, delete, and firing (§2.4, R-TOP-*).

Whether a top-up fires is the core's rule (`ledger/top_ups.py`); `fire_due` asks it, at the
end of the customer's write transaction (the write path runs it: it is one of the context's
`write_endings`), for every ledger the request may have lowered, after the triggering
operation. Concurrent decrements can therefore never fire a top-up twice:
they are serialized by the customer lock and each sees the previous one's top-up. A
ledger's head names its active top-up, so a write to a ledger without one reads nothing
more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from drawdown.ledger import top_ups as rules
from drawdown.ledger.amounts import decimal_string
from drawdown.ledger.dates import add_days_local, resolve_instant
from drawdown.records import TopUp
from drawdown.services.billing import invoicing
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import ledger_currency
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    find_customer,
    run_command,
    set_top_up,
)
from drawdown.store import invoices as invoice_store
from drawdown.store import top_ups as store

ACTIVE_FROM_PAST_DAYS_MAX = 10
# Block lifetimes stay far inside what datetime can represent when a top-up fires.
EXPIRES_AFTER_MAX = {"day": 36_500, "month": 1_200}


@dataclass(frozen=True)
class TopUpInvoicing:
    """A top-up's `invoice_settings`, as the API validated them."""

    auto_collection: bool
    net_terms: int
    memo: str | None = None
    require_successful_payment: bool | None = None


@dataclass(frozen=True)
class NewTopUp:
    """A top-up request as the API validated its shape (amounts are the decimal strings
    sent, checked and echoed as given)."""

    currency: str
    threshold: str
    amount: str
    per_unit_cost_basis: str
    invoice_settings: TopUpInvoicing
    active_from: str | None = None
    expires_after: int | None = None
    expires_after_unit: Literal["day", "month"] | None = None


def create_top_up(ref: CustomerRef, request: NewTopUp) -> Work[TopUp]:
    """E14/E15: replaces the customer's active top-up for that currency (R-TOP-1)."""

    def create(write: CustomerWrite) -> TopUp:
        values = _values(write, request)
        currency = values["currency"]
        for old in store.active_for(write.tx, write.customer_id, currency):
            store.deactivate(write.tx, write.customer_id, old.id, write.now)
        store.insert(write.tx, values)
        set_top_up(write, currency, values["id"])
        write.lowered.add(currency)  # R-TOP-3: evaluate right after creation
        created = store.get(write.tx, write.customer_id, values["id"])
        assert created is not None
        return created

    return customer_work(ref, create)


def _values(write: CustomerWrite, request: NewTopUp) -> dict[str, Any]:
    invoicing.require_currency(write.customer, "currency")
    settings = request.invoice_settings
    amount = decimal_string(request.amount, field="amount")
    threshold = decimal_string(request.threshold, field="threshold")
    cost_basis = decimal_string(request.per_unit_cost_basis, field="per_unit_cost_basis")
    if amount <= 0:
        raise InvalidField("amount", "must be greater than 0")
    if threshold < 0:
        raise InvalidField("threshold", "must be greater than or equal to 0")
    if cost_basis < 0:
        raise InvalidField("per_unit_cost_basis", "must be greater than or equal to 0")
    # Checked now, because a bad value would only fail later, inside whichever write fires it.
    invoicing.check_net_terms(settings.net_terms, "invoice_settings.net_terms")
    return {
        "customer_id": write.customer_id, "id": write.ctx.new_id(),
        "currency": ledger_currency(write.customer, request.currency),
        "amount": request.amount, "threshold": request.threshold,
        "per_unit_cost_basis": request.per_unit_cost_basis,
        "auto_collection": settings.auto_collection, "net_terms": settings.net_terms,
        "memo": settings.memo,
        # §2.4: absent or null means the documented default, false; echoed as stored.
        "require_successful_payment": bool(settings.require_successful_payment),
        "active_from": _active_from(write, request.active_from),
        **_expiry(request), "created_at": write.now, "deactivated_at": None,
    }  # fmt: skip


def _active_from(write: CustomerWrite, raw: str | None) -> datetime:
    if raw is None:
        return write.now
    active_from = resolve_instant(raw, write.customer.timezone, field="active_from")
    if active_from < write.now - timedelta(days=ACTIVE_FROM_PAST_DAYS_MAX):
        raise InvalidField(
            "active_from", f"must not be more than {ACTIVE_FROM_PAST_DAYS_MAX} days in the past"
        )
    return active_from


def _expiry(request: NewTopUp) -> dict[str, Any]:
    after, unit = request.expires_after, request.expires_after_unit
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
) -> list[TopUp]:
    with ctx.db.read() as tx:
        customer = find_customer(tx, ref)
        return store.list_active(tx, customer.id, after, limit)


def delete_top_up(ref: CustomerRef, top_up_id: str) -> Work[None]:
    """E18/E19: deactivate and void its unpaid pending invoices (R-TOP-7)."""

    def delete(write: CustomerWrite) -> None:
        top_up = store.get(write.tx, write.customer_id, top_up_id)
        if top_up is None or top_up.deactivated_at is not None:
            raise ResourceNotFound("TopUp", top_up_id)
        deactivate(write, top_up)
        for invoice in invoice_store.issued_for_top_up(write.tx, write.customer_id, top_up_id):
            if invoicing.pending_block_id(write, invoice) is not None:
                invoicing.void_invoice_in(write, invoice)

    return customer_work(ref, delete)


def deactivate(write: CustomerWrite, top_up: TopUp) -> None:
    store.deactivate(write.tx, write.customer_id, top_up.id, write.now)
    head = write.heads.get(top_up.currency)
    if head is not None and head.top_up_id == top_up.id:
        set_top_up(write, top_up.currency, None)


def deactivate_by_id(write: CustomerWrite, top_up_id: str) -> None:
    """R-TOP-8: a voided top-up invoice ends its top-up (if it is still active)."""
    top_up = store.get(write.tx, write.customer_id, top_up_id)
    if top_up is not None and top_up.deactivated_at is None:
        deactivate(write, top_up)


# --- firing -----------------------------------------------------------------------------


def fire_due(write: CustomerWrite) -> None:
    """A step of the end of every write (registered on the context, run by the write path):
    top-ups, once per ledger whose drawable balance may have dropped (R-TOP-3)."""
    for currency in sorted(write.lowered):
        head = write.heads.get(currency)
        if head is not None and head.top_up_id is not None:
            top_up = store.get(write.tx, write.customer_id, head.top_up_id)
            if top_up is not None and top_up.deactivated_at is None:
                _evaluate(write, top_up)
    write.lowered.clear()


def _evaluate(write: CustomerWrite, top_up: TopUp) -> None:
    rule = _rule(top_up)
    pending = rule.require_successful_payment and store.has_pending_block(
        write.tx, write.customer_id, top_up.id
    )
    if rules.should_fire(rule, write.state(top_up.currency), write.now, has_pending_block=pending):
        _fire(write, top_up, rule)


def _rule(top_up: TopUp) -> rules.TopUpRule:
    unit = top_up.expires_after_unit
    return rules.TopUpRule(
        top_up_id=top_up.id,
        threshold=Decimal(top_up.threshold),
        amount=Decimal(top_up.amount),
        per_unit_cost_basis=Decimal(top_up.per_unit_cost_basis),
        active_from=top_up.active_from,
        require_successful_payment=bool(top_up.require_successful_payment),
        expires_after=top_up.expires_after,
        expires_after_unit="month" if unit == "month" else ("day" if unit else None),
    )


def _fire(write: CustomerWrite, top_up: TopUp, rule: rules.TopUpRule) -> None:
    """R-TOP-4: an increment with the top-up's amount, cost basis, expiry and invoice."""
    terms = invoicing.InvoiceTerms(
        quantity=rule.amount,
        unit_amount=rule.per_unit_cost_basis,
        auto_collection=top_up.auto_collection,
        invoice_date=write.now,
        due_date=add_days_local(write.now, top_up.net_terms, write.customer.timezone),
        memo=top_up.memo,
        item_id=None,
        mark_as_paid=False,
        require_successful_payment=rule.require_successful_payment,
        net_terms=top_up.net_terms,
    )
    _, block_status = invoicing.status_for(write.customer, terms)
    block_id, invoice_id = write.ctx.new_id(), write.ctx.new_id()
    invoicing.create_invoice(
        write, invoice_id, terms, block_id=block_id, ledger_currency=top_up.currency,
        top_up_id=top_up.id,
    )  # fmt: skip
    command = rules.increment(
        rule, write.now, write.customer.timezone, block_id=block_id, entry_id=write.ctx.new_id(),
        invoice_id=invoice_id, block_status=block_status,
    )  # fmt: skip
    run_command(write, top_up.currency, command)
