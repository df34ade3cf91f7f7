"""A customer's credit settings (a drawdown extension): the overdraft policy and the
`customer.credit_balance_dropped` thresholds, both kept on the customer row, which every
write reads anyway, so they cost a write nothing to consult."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.ledger.amounts import format_decimal
from drawdown.services.context import ServiceContext
from drawdown.services.customers import OVERDRAFT_POLICIES
from drawdown.services.errors import InvalidField
from drawdown.services.ledger.balances import overdraft_policy
from drawdown.services.ledger.planning import ledger_currency
from drawdown.services.write_path import CustomerRef, Work, find_customer
from drawdown.store import customers as store
from drawdown.store.records import Customer
from drawdown.store.tx import Tx

THRESHOLDS_MAX = 20


@dataclass(frozen=True)
class CreditSettings:
    customer: Customer
    overdraft: str | None  # the customer's own policy; None follows the server's
    effective_overdraft: str
    thresholds: tuple[tuple[str, Decimal], ...]  # (currency, value), sorted


def settings_of(ctx: ServiceContext, customer: Customer) -> CreditSettings:
    thresholds = sorted((t["currency"], Decimal(t["value"]))
                        for t in customer.balance_alert_thresholds)  # fmt: skip
    return CreditSettings(customer, customer.overdraft, overdraft_policy(ctx, customer),
                          tuple(thresholds))  # fmt: skip


def get_settings(ctx: ServiceContext, ref: CustomerRef) -> CreditSettings:
    with ctx.db.read() as tx:
        return settings_of(ctx, find_customer(tx, ref))


def update_settings(ref: CustomerRef, fields: Mapping[str, Any]) -> Work[CreditSettings]:
    """Change the fields sent: `overdraft` ("allow", "refuse", or null for the server's
    default) and `balance_alert_thresholds` ([{currency, value}], null or [] for none)."""
    policy = fields.get("overdraft")
    if policy is not None and policy not in OVERDRAFT_POLICIES:
        raise InvalidField("overdraft", f"must be one of {', '.join(OVERDRAFT_POLICIES)}")

    def update(ctx: ServiceContext, tx: Tx, _now: datetime) -> CreditSettings:
        customer = find_customer(tx, ref, lock=True)
        changes: dict[str, Any] = {}
        if "overdraft" in fields:
            changes["overdraft"] = policy
        if "balance_alert_thresholds" in fields:
            changes["balance_alert_thresholds"] = _thresholds(
                customer, fields["balance_alert_thresholds"] or []
            )
        store.update_fields(tx, customer.id, changes)
        updated = store.get(tx, customer.id)
        assert updated is not None
        return settings_of(ctx, updated)

    return Work(update, lock=ref.lock_key())


def _thresholds(customer: Customer, given: list[Mapping[str, Any]]) -> list[dict[str, str]] | None:
    if len(given) > THRESHOLDS_MAX:
        raise InvalidField("balance_alert_thresholds", f"at most {THRESHOLDS_MAX} thresholds")
    seen: set[tuple[str, Decimal]] = set()
    for index, item in enumerate(given):
        field = f"balance_alert_thresholds.{index}"
        currency = ledger_currency(customer, item.get("currency"), f"{field}.currency")
        value: Decimal = item["value"]
        if value < 0:
            raise InvalidField(f"{field}.value", "must be greater than or equal to 0")
        seen.add((currency, value))
    return [{"currency": c, "value": format_decimal(v)} for c, v in sorted(seen)] or None
