"""Balance alerts, evaluated at the end of every write that changed a ledger.

`billing/top_ups.settle` (the one settle point of every use case) calls `evaluate` after
the top-ups it fired, so alerts see the final balances of the transaction. The rule is the
core's (`ledger/balances.balance_alerts`); the alert state per ledger is stored, so each
event is sent once per crossing. With no endpoint wanting a balance event this reads
nothing: the endpoint list is in memory (`cache.py`), thresholds come with the customer.
"""

from __future__ import annotations

from decimal import Decimal

from drawdown.ledger.amounts import format_decimal
from drawdown.ledger.balances import Alert, AlertStatus, balance_alerts, summarize
from drawdown.services.webhooks import events
from drawdown.services.write_path import CustomerTx
from drawdown.store import webhooks as store
from drawdown.store.records import Customer


def evaluate(tx: CustomerTx) -> None:
    changed = sorted(tx.changed)
    tx.changed.clear()
    if not changed:
        return
    wanted = tx.ctx.webhooks.types(tx.tx)
    if wanted is not None and not wanted & events.BALANCE_EVENTS:
        return
    for currency in changed:
        _evaluate_ledger(tx, currency)


def thresholds_of(customer: Customer, currency: str) -> list[Decimal]:
    return sorted(
        {Decimal(t["value"]) for t in customer.balance_alert_thresholds
         if t["currency"] == currency}
    )  # fmt: skip


def _evaluate_ledger(tx: CustomerTx, currency: str) -> None:
    available = summarize(tx.state(currency), tx.now).available
    stored = store.alert_status(tx.tx, tx.customer_id, currency)
    status = AlertStatus() if stored is None else AlertStatus(stored[0], frozenset(stored[1]))
    thresholds = thresholds_of(tx.customer, currency)
    new, alerts = balance_alerts(status, available, thresholds)
    for alert in alerts:
        event_type = f"customer.credit_balance_{alert.kind}"
        if tx.ctx.webhooks.wants(tx.tx, event_type):
            events.emit(tx, event_type, currency, _properties(tx, alert, currency, available,
                                                              thresholds, new))  # fmt: skip
    if new != status:
        store.save_alert_status(tx.tx, tx.customer_id, currency, new.depleted, new.below,
                                tx.now)  # fmt: skip


def _properties(
    tx: CustomerTx, alert: Alert, currency: str, available: Decimal, thresholds: list[Decimal],
    status: AlertStatus,
) -> dict[str, object]:  # fmt: skip
    if alert.kind == "dropped":
        values = [format_decimal(t) for t in thresholds]
        in_alert = [{"in_alert": t in status.below, "threshold_value": format_decimal(t)}
                    for t in thresholds]  # fmt: skip
    else:
        values = ["0"]
        in_alert = [{"in_alert": status.depleted, "threshold_value": "0"}]
    properties: dict[str, object] = {
        "alert_configuration": events.alert_configuration(
            tx, f"credit_balance_{alert.kind}", currency, values, in_alert
        ),
        "pricing_unit": events.pricing_unit(currency),
        # drawdown extension: the available balance that triggered the event.
        "available_balance": format_decimal(available),
    }
    if alert.threshold is not None:
        properties["balance_threshold"] = format_decimal(alert.threshold)
    return properties
