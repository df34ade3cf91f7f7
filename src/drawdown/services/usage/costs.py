"""A customer's costs (Orb's `customers.costs.list`, R-CAT-6): what priced usage cost, per
price and day, priced exactly as the deducter prices it (the version of each line in force at each
event's timestamp, `ledger/evaluation.Costs`).

drawdown has no subscriptions and so no billing period (docs/decisions.md "Price
catalogue"): the timeframe is the one asked for, by default the current month of the
customer's timezone up to the end of today; it is cut into the customer's local days. In
`cumulative` view (the default, as Orb's) every window starts at `timeframe_start` and ends
at the end of a day; in `periodic` view each window is one day. Every accepted event of
the timeframe counts, deducted or still pending. Costs are in one pricing unit (`currency`,
default `credits`): summing different units would mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from drawdown.ledger.dates import add_days_local, local_midnight, resolve_instant, zone
from drawdown.ledger.evaluation import Costs, Usage, day_edges, total
from drawdown.ledger.usage import Catalogue
from drawdown.records import Customer
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import DEFAULT_PRICING_UNIT
from drawdown.services.errors import InvalidField
from drawdown.services.usage.evaluate import stored_events
from drawdown.services.write_path import CustomerRef, find_customer
from drawdown.store import catalogue as catalogue_store
from drawdown.store import usage as usage_store
from drawdown.store.catalogue import PriceRecord

DAYS_MAX = 100
VIEW_MODES = ("periodic", "cumulative")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    costs: dict[str, Usage]  # by price id

    @property
    def total(self) -> Decimal:
        return total(self.costs.values()).amount


@dataclass(frozen=True)
class CostReport:
    windows: list[Window]
    prices: dict[str, PriceRecord]


def customer_costs(
    ctx: ServiceContext,
    ref: CustomerRef,
    currency: str | None,
    start_text: str | None,
    end_text: str | None,
    view_mode: str | None,
) -> CostReport:
    cumulative = (view_mode or "cumulative") == "cumulative"
    unit = currency or DEFAULT_PRICING_UNIT
    with ctx.db.read() as tx:
        customer = find_customer(tx, ref)
        start, end = _timeframe(customer, start_text, end_text, ctx.now())
        edges = day_edges(start, end, customer.timezone)
        versions = [v for v in usage_store.prices(tx) if v.currency == unit]
        costs = Costs(Catalogue(versions), edges)
        names = sorted({v.event_name for v in versions})
        for batch in stored_events(tx, customer.id, start, end, names) if names else ():
            costs.add(batch, unit)
        windows = costs.windows(cumulative=cumulative)
        used = {price_id for window in windows for price_id in window}
        prices = catalogue_store.prices_by_id(tx, sorted(used))
    return CostReport([Window(start if cumulative else edges[i], edges[i + 1], window)
                       for i, window in enumerate(windows)], prices)  # fmt: skip


def _timeframe(
    customer: Customer, start_text: str | None, end_text: str | None, now: datetime
) -> tuple[datetime, datetime]:
    tz = customer.timezone
    today = now.astimezone(zone(tz)).date()
    end = (add_days_local(local_midnight(today, tz), 1, tz) if end_text is None
           else resolve_instant(end_text, tz, field="timeframe_end"))  # fmt: skip
    if start_text is None:
        last_day = (end - timedelta(microseconds=1)).astimezone(zone(tz)).date()
        start = local_midnight(last_day.replace(day=1), tz)
    else:
        start = resolve_instant(start_text, tz, field="timeframe_start")
    if end <= start:
        raise InvalidField("timeframe_end", "must be after timeframe_start")
    if end - start > timedelta(days=DAYS_MAX):
        raise InvalidField("timeframe_start", f"costs cover at most {DAYS_MAX} days")
    return start, end
