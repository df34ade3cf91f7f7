"""Customers' balance alerts, Orb's alerts API: create, list, fetch, change thresholds,
enable, disable, delete (R-ALR-1..6 in docs/rules.md §6.1).

An alert is one balance event (`credit_balance_depleted`, `_dropped` with thresholds,
`_recovered`) for one ledger of one customer, at most one live alert of a type per ledger.
The alerts are the one source of truth for which balance events fire: every write of a
customer that has any (the customer row's `balance_alerts` flag) reads them in its own
transaction (`webhooks/alerts.py`), so a change here takes effect on the customer's next
write. The credit settings (`credits/credit_settings.py`) show and write the thresholds of
the `credit_balance_dropped` alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.ledger.balances import AlertKind, AlertStatus, threshold_status
from drawdown.records import BalanceAlert, Customer
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import ledger_currency
from drawdown.services.errors import InvalidField, ResourceNotFound, ServiceError
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    find_customer,
)
from drawdown.store import alerts as store
from drawdown.store import customers as customer_store
from drawdown.store import webhooks as status_store
from drawdown.store.tx import Tx

DEPLETED = "credit_balance_depleted"
DROPPED = "credit_balance_dropped"
RECOVERED = "credit_balance_recovered"
TYPES = (DEPLETED, DROPPED, RECOVERED)
KINDS: dict[str, AlertKind] = {DEPLETED: "depleted", DROPPED: "dropped", RECOVERED: "recovered"}
# Orb's other alert types watch plans and subscriptions, which drawdown does not have.
PLAN_TYPES = ("usage_exceeded", "cost_exceeded", "spend_exceeded",
              "license_balance_threshold_reached")  # fmt: skip
THRESHOLDS_MAX = 20
COST_ALERTS_ONLY = ("applies only to cost and spend alerts, which watch subscriptions; "
                    "drawdown's alerts are credit-balance alerts")  # fmt: skip


@dataclass(frozen=True)
class AlertView:
    """An alert with what its wire form needs: the customer and the ledger's alert state."""

    alert: BalanceAlert
    customer: Customer
    status: tuple[tuple[Decimal, bool], ...]  # Orb's balance_alert_status: (value, in alert)


class DuplicateAlert(ServiceError):
    kind = "duplicate"

    def __init__(self, existing: BalanceAlert) -> None:
        super().__init__(
            "type",
            f"This customer already has a {existing.type} alert for the {existing.currency!r} "
            f"ledger ({existing.id}); update, enable or delete that one instead.",
        )


def status_of(stored: tuple[bool, Sequence[Decimal]] | None) -> AlertStatus:
    """A ledger's stored alert state; a ledger never evaluated is neither depleted nor below."""
    depleted, below = stored if stored is not None else (False, ())
    return AlertStatus(depleted, frozenset(below))


def _view(alert: BalanceAlert, customer: Customer, status: AlertStatus) -> AlertView:
    return AlertView(alert, customer, threshold_status(status, KINDS[alert.type],
                                                       alert.thresholds))  # fmt: skip


# --- input ------------------------------------------------------------------------------


def checked_type(value: str | None) -> str:
    if value in TYPES:
        assert value is not None
        return value
    if value in PLAN_TYPES:
        message = (f"{value} alerts watch plans and subscriptions, which drawdown does not "
                   f"have; use one of {', '.join(TYPES)}")  # fmt: skip
        raise InvalidField("type", message)
    raise InvalidField("type", f"must be one of {', '.join(TYPES)}")


def checked_thresholds(
    alert_type: str, values: Sequence[Decimal] | None, field: str = "thresholds"
) -> tuple[Decimal, ...]:
    """The thresholds an alert of `alert_type` keeps: distinct, ascending, each ≥ 0.
    Dropped alerts need at least one; depleted and recovered alerts fire at 0 and take none."""
    given = list(values or ())
    if alert_type != DROPPED:
        if given:
            raise InvalidField(field, f"{alert_type} alerts take no thresholds (they fire at 0)")
        return ()
    if not given:
        raise InvalidField(field, f"{DROPPED} alerts need at least one threshold")
    if len(given) > THRESHOLDS_MAX:
        raise InvalidField(field, f"at most {THRESHOLDS_MAX} thresholds")
    for index, value in enumerate(given):
        if value < 0:
            raise InvalidField(f"{field}.{index}.value", "must be greater than or equal to 0")
    return tuple(sorted(set(given)))


# --- reads --------------------------------------------------------------------------------


def get_alert(ctx: ServiceContext, alert_id: str) -> AlertView:
    with ctx.db.read() as tx:
        alert, customer = _alert_and_customer(tx, alert_id)
        stored = status_store.alert_status(tx, customer.id, alert.currency)
        return _view(alert, customer, status_of(stored))


def owner_of(ctx: ServiceContext, alert_id: str) -> CustomerRef:
    """The customer an alert belongs to (never changes), or 404."""
    with ctx.db.read() as tx:
        return CustomerRef(id=_alert_and_customer(tx, alert_id)[1].id)


def _alert_and_customer(tx: Tx, alert_id: str) -> tuple[BalanceAlert, Customer]:
    alert = store.get(tx, alert_id)
    customer = None if alert is None else customer_store.get(tx, alert.customer_id)
    if alert is None or customer is None:  # deleted, or its customer was deleted
        raise ResourceNotFound("Alert", alert_id)
    return alert, customer


def list_alerts(
    ctx: ServiceContext,
    ref: CustomerRef,
    created_at: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[AlertView]:
    """The customer's alerts, newest first (404 for an unknown customer)."""
    with ctx.db.read() as tx:
        customer = find_customer(tx, ref)
        found = store.list_page(tx, customer.id, created_at_filters=created_at, after=after,
                                limit=limit)  # fmt: skip
        return _views(tx, customer, found)


def alerts_of(tx: Tx, customer: Customer) -> list[AlertView]:
    """Every live alert of the customer, oldest first (the console, the credit settings)."""
    return _views(tx, customer, store.of_customer(tx, customer.id) if customer.balance_alerts
                  else [])  # fmt: skip


def dropped_alerts(tx: Tx, customer: Customer) -> list[BalanceAlert]:
    """The customer's live `credit_balance_dropped` alerts, enabled or not."""
    if not customer.balance_alerts:
        return []
    return [a for a in store.of_customer(tx, customer.id) if a.type == DROPPED]


def _views(tx: Tx, customer: Customer, found: Sequence[BalanceAlert]) -> list[AlertView]:
    statuses = status_store.alert_statuses(tx, customer.id) if found else {}
    return [_view(a, customer, status_of(statuses.get(a.currency))) for a in found]


# --- writes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAlert:
    """An alert request from the API or the console; the use case checks its values."""

    currency: str | None
    type: str | None
    thresholds: Sequence[Decimal] | None = None


@dataclass(frozen=True)
class ThresholdsUpdate:
    """Orb's `PUT /alerts/{id}`: new thresholds; the cost-alert fields must be empty."""

    thresholds: Sequence[Decimal] | None
    price_filters: Sequence[object] | None = None
    threshold_overrides: Sequence[object] | None = None


def create_alert(ref: CustomerRef, request: NewAlert) -> Work[AlertView]:
    """A new enabled alert for one ledger (`currency`, `type`, `thresholds`); refused if
    the ledger already has a live alert of that type."""
    chosen = checked_type(request.type)
    values = checked_thresholds(chosen, request.thresholds)
    currency = request.currency
    if currency is None:
        raise InvalidField("currency", "is required")

    def create(write: CustomerWrite) -> AlertView:
        ledger = ledger_currency(write.customer, currency, "currency")
        alert = BalanceAlert(write.customer_id, write.ctx.new_id(), chosen, ledger, True, values,
                             write.now)  # fmt: skip
        add(write, alert)
        return _locked_view(write, alert)

    return customer_work(ref, create)


def add(write: CustomerWrite, alert: BalanceAlert) -> None:
    """Insert `alert` (one of this customer's) unless its ledger has one of its type."""
    for existing in store.of_customer(write.tx, write.customer_id, [alert.currency]):
        if existing.type == alert.type:
            raise DuplicateAlert(existing)
    store.insert(write.tx, alert)
    if not write.customer.balance_alerts:
        store.refresh_flag(write.tx, write.customer_id)
        write.customer = replace(write.customer, balance_alerts=True)


def update_thresholds(
    owner: CustomerRef, alert_id: str, request: ThresholdsUpdate
) -> Work[AlertView]:
    """Replace an alert's thresholds (Orb's `PUT /alerts/{id}`); cost-alert fields are refused."""
    if request.price_filters:
        raise InvalidField("price_filters", COST_ALERTS_ONLY)
    if request.threshold_overrides:
        raise InvalidField("threshold_overrides", COST_ALERTS_ONLY)
    given = request.thresholds

    def update(write: CustomerWrite) -> AlertView:
        alert = locked_alert(write, alert_id)
        values = checked_thresholds(alert.type, given)
        changed = change(write, alert, thresholds=values)
        return _locked_view(write, changed)

    return customer_work(owner, update)


def set_enabled(owner: CustomerRef, alert_id: str, enabled: bool) -> Work[AlertView]:
    """Enable or disable an alert: its events are sent, or not, from the next write on."""

    def toggle(write: CustomerWrite) -> AlertView:
        changed = change(write, locked_alert(write, alert_id), enabled=enabled)
        return _locked_view(write, changed)

    return customer_work(owner, toggle)


def delete_alert(owner: CustomerRef, alert_id: str) -> Work[None]:
    """Delete an alert: it no longer fires nor appears (the row is kept, as Orb keeps it)."""

    def delete(write: CustomerWrite) -> None:
        remove(write, locked_alert(write, alert_id))

    return customer_work(owner, delete)


def set_dropped(write: CustomerWrite, wanted: Mapping[str, tuple[Decimal, ...]]) -> None:
    """Make the customer's dropped alerts exactly `wanted` (ledger → thresholds): existing
    ones get the new thresholds (keeping id and enabled flag), missing ones are created
    enabled, those of ledgers not named are deleted. The credit settings' write."""
    existing = {a.currency: a for a in dropped_alerts(write.tx, write.customer)}
    for currency, alert in sorted(existing.items()):
        if currency not in wanted:
            remove(write, alert)
    for currency, thresholds in sorted(wanted.items()):
        if currency in existing:
            change(write, existing[currency], thresholds=thresholds)
        else:
            add(write, BalanceAlert(write.customer_id, write.ctx.new_id(), DROPPED, currency, True,
                                 thresholds, write.now))  # fmt: skip


def locked_alert(write: CustomerWrite, alert_id: str) -> BalanceAlert:
    alert = store.get(write.tx, alert_id)
    if alert is None or alert.customer_id != write.customer_id:
        raise ResourceNotFound("Alert", alert_id)
    return alert


def change(
    write: CustomerWrite, alert: BalanceAlert, *, enabled: bool | None = None,
    thresholds: tuple[Decimal, ...] | None = None,
) -> BalanceAlert:  # fmt: skip
    values: dict[str, Any] = {}
    if enabled is not None and enabled != alert.enabled:
        values["enabled"] = enabled
    if thresholds is not None and thresholds != alert.thresholds:
        values["thresholds"] = thresholds
    if values:
        store.change(write.tx, alert, values)
    return replace(alert, **values)


def remove(write: CustomerWrite, alert: BalanceAlert) -> None:
    store.delete(write.tx, alert, write.now)
    flag = store.refresh_flag(write.tx, write.customer_id)
    write.customer = replace(write.customer, balance_alerts=flag)


def _locked_view(write: CustomerWrite, alert: BalanceAlert) -> AlertView:
    stored = status_store.alert_status(write.tx, write.customer_id, alert.currency)
    return _view(alert, write.customer, status_of(stored))
