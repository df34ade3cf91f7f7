"""Balance alerts, evaluated at the end of every write that changed a ledger (R-ALR-1,
R-ALR-2, R-ALR-4).

The write path runs `evaluate` at the end of every customer write (it is the last of the
context's `write_endings`, after the top-ups fired), so alerts see the final balances of
the transaction. The rule is the
core's (`ledger/balances.balance_alerts`); the alert state per ledger is stored, so each
event is sent once per crossing.

What fires is what the customer's alerts say (`services/balance_alerts.py`, Orb's model):
an event is sent only for an enabled alert of its type and ledger, read in this write's
transaction, so enabling, disabling or changing thresholds takes effect on the next write.
The ledger's state follows the balance whenever the ledger has an alert, enabled or not, so
a re-enabled alert reports only crossings that happen after it. A write for a customer
without alerts reads nothing: the customer row it already holds says so (`balance_alerts`).
"""

from __future__ import annotations

from decimal import Decimal

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.balances import (
    Alert,
    AlertStatus,
    balance_alerts,
    summarize,
    threshold_status,
)
from drawdown.records import BalanceAlert
from drawdown.services.webhooks import events
from drawdown.services.write_path import CustomerWrite
from drawdown.store import alerts as alert_store
from drawdown.store import webhooks as store

DROPPED = "credit_balance_dropped"


def evaluate(write: CustomerWrite) -> None:
    changed = sorted(write.changed)
    write.changed.clear()
    if not changed or not write.customer.balance_alerts:
        return
    by_ledger: dict[str, list[BalanceAlert]] = {}
    for alert in alert_store.of_customer(write.tx, write.customer_id, changed):
        by_ledger.setdefault(alert.currency, []).append(alert)
    for currency in sorted(by_ledger):
        _evaluate_ledger(write, currency, by_ledger[currency])


def _evaluate_ledger(write: CustomerWrite, currency: str, configured: list[BalanceAlert]) -> None:
    available = summarize(write.state(currency), write.now).available
    stored = store.alert_status(write.tx, write.customer_id, currency)
    status = AlertStatus() if stored is None else AlertStatus(stored[0], frozenset(stored[1]))
    dropped = next((a.thresholds for a in configured if a.type == DROPPED), ())
    new, fired = balance_alerts(status, available, dropped)
    enabled = {a.type: a for a in configured if a.enabled}
    for alert in fired:
        config = enabled.get(f"credit_balance_{alert.kind}")
        event_type = f"customer.credit_balance_{alert.kind}"
        if config is not None and write.ctx.webhooks.wants(write.tx, event_type):
            events.emit(
                write, event_type, currency, _properties(write, config, alert, available, new)
            )
    if new != status:
        store.save_alert_status(write.tx, write.customer_id, currency, new.depleted, new.below,
                                write.now)  # fmt: skip


def _properties(
    write: CustomerWrite,
    config: BalanceAlert,
    alert: Alert,
    available: Decimal,
    status: AlertStatus,
) -> dict[str, object]:
    in_alert = threshold_status(status, alert.kind, config.thresholds)
    properties: dict[str, object] = {
        "alert_configuration": events.alert_configuration(write.customer, config, in_alert),
        "pricing_unit": events.pricing_unit(config.currency),
        # drawdown extension: the available balance that triggered the event.
        "available_balance": format_decimal(available),
    }
    if alert.threshold is not None:
        properties["balance_threshold"] = format_decimal(alert.threshold)
    return properties
