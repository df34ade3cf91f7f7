"""A customer's credit settings (a drawdown extension): the overdraft policy (R-FIN-4),
kept on the customer row, and the `customer.credit_balance_dropped` thresholds (R-ALR-6),
which are a view of the customer's `credit_balance_dropped` alerts
(`services/balance_alerts.py`): reading shows their thresholds, writing replaces them
(creating, changing or deleting those alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from drawdown.records import Customer
from drawdown.services import balance_alerts
from drawdown.services.context import ServiceContext
from drawdown.services.credits.balances import overdraft_policy
from drawdown.services.currencies import ledger_currency
from drawdown.services.customers import OVERDRAFT_POLICIES
from drawdown.services.errors import InvalidField
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    find_customer,
)
from drawdown.store import customers as store
from drawdown.store.tx import Tx

THRESHOLDS_MAX = 20


@dataclass(frozen=True)
class CreditSettings:
    customer: Customer
    overdraft: str | None  # the customer's own policy; None follows the server's
    effective_overdraft: str
    # (currency, value) of every live dropped alert, enabled or not, sorted
    thresholds: tuple[tuple[str, Decimal], ...]


def settings_of(ctx: ServiceContext, tx: Tx, customer: Customer) -> CreditSettings:
    thresholds = sorted((alert.currency, value)
                        for alert in balance_alerts.dropped_alerts(tx, customer)
                        for value in alert.thresholds)  # fmt: skip
    return CreditSettings(customer, customer.overdraft, overdraft_policy(ctx, customer),
                          tuple(thresholds))  # fmt: skip


def get_settings(ctx: ServiceContext, ref: CustomerRef) -> CreditSettings:
    with ctx.db.read() as tx:
        return settings_of(ctx, tx, find_customer(tx, ref))


@dataclass(frozen=True)
class Threshold:
    """One threshold sent: its ledger (None: `credits`) and value."""

    currency: str | None
    value: Decimal


@dataclass(frozen=True)
class SettingsUpdate:
    """A credit-settings request; only what was sent changes (a `*_sent` flag says so,
    because null is a value here: the server's default policy, or no thresholds)."""

    overdraft: str | None = None
    overdraft_sent: bool = False
    balance_alert_thresholds: Sequence[Threshold] | None = None
    balance_alert_thresholds_sent: bool = False


def update_settings(ref: CustomerRef, request: SettingsUpdate) -> Work[CreditSettings]:
    """Change the fields sent: `overdraft` ("allow", "refuse", or null for the server's
    default) and `balance_alert_thresholds` ([{currency, value}], null or [] for none): the
    dropped alerts become exactly these (a ledger left out loses its dropped alert; the
    others keep their id and enabled flag)."""
    policy = request.overdraft
    if policy is not None and policy not in OVERDRAFT_POLICIES:
        raise InvalidField("overdraft", f"must be one of {', '.join(OVERDRAFT_POLICIES)}")

    def update(write: CustomerWrite) -> CreditSettings:
        if request.overdraft_sent:
            store.update_fields(write.tx, write.customer_id, {"overdraft": policy})
        if request.balance_alert_thresholds_sent:
            given = request.balance_alert_thresholds or ()
            balance_alerts.set_dropped(write, _thresholds(write.customer, given))
        updated = store.get(write.tx, write.customer_id)
        assert updated is not None
        return settings_of(write.ctx, write.tx, updated)

    return customer_work(ref, update)


def _thresholds(customer: Customer, given: Sequence[Threshold]) -> dict[str, tuple[Decimal, ...]]:
    """The thresholds sent, by ledger (distinct, ascending)."""
    if len(given) > THRESHOLDS_MAX:
        raise InvalidField("balance_alert_thresholds", f"at most {THRESHOLDS_MAX} thresholds")
    by_ledger: dict[str, set[Decimal]] = {}
    for index, item in enumerate(given):
        field = f"balance_alert_thresholds.{index}"
        currency = ledger_currency(customer, item.currency, f"{field}.currency")
        value = item.value
        if value < 0:
            raise InvalidField(f"{field}.value", "must be greater than or equal to 0")
        by_ledger.setdefault(currency, set()).add(value)
    return {currency: tuple(sorted(values)) for currency, values in by_ledger.items()}
