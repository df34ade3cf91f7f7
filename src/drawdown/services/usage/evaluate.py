"""Evaluating prices (Orb's `prices.evaluate`, `evaluate_multiple`, `evaluate_preview_events`):
what a price charges one customer's usage in a timeframe, with the deducter's own pricing
(R-CAT-5).

A price applies to every event of the timeframe `[timeframe_start, timeframe_end)` that its
metric counts, whatever the price's own effective window (Orb's meaning: what this price
charges for this usage; what usage *did* cost, version by version, is `costs.py`). Prices
are named by id or external id, or given inline (an Orb unit price body, checked as
`prices.create` checks it, nothing written). `filter` narrows the events with property
equalities (`ledger/metric_sql.parse_filter`); `grouping_keys` are property names. Stored
events are read in batches, so a long timeframe costs time, not memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from drawdown.ledger.dates import resolve_instant
from drawdown.ledger.evaluation import Evaluation, GroupValue, Usage
from drawdown.ledger.metric_sql import parse_filter, parse_property
from drawdown.ledger.usage import Filters, Metric, UsageEvent
from drawdown.records import Customer
from drawdown.services.context import ServiceContext
from drawdown.services.errors import InvalidField, ResourceNotFound
from drawdown.services.usage import ingest
from drawdown.services.usage.metrics import found as found_metric
from drawdown.services.usage.price_input import PriceSpec, price_spec
from drawdown.services.write_path import CustomerRef, find_customer
from drawdown.store import catalogue as catalogue_store
from drawdown.store import usage as usage_store
from drawdown.store.tx import Tx

PRICE_EVALUATIONS_MAX = 100
PREVIEW_EVENTS_MAX = 500
GROUPING_KEYS_MAX = 10
GROUPS_MAX = 1000
TIMEFRAME_DAYS_MAX = 366
EVENTS_PER_READ = 5000


@dataclass(frozen=True)
class PriceEvaluation:
    """One price to evaluate: by id, by external id, or inline; with filter and grouping."""

    price_id: str | None = None
    external_price_id: str | None = None
    price: Mapping[str, Any] | None = None
    filter: str | None = None
    grouping_keys: Sequence[str] = ()
    metric_parameter_overrides: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Evaluated:
    """A price's result: its groups (grouping values, usage), and which price it was."""

    currency: str
    price_id: str | None
    external_price_id: str | None
    inline_price_index: int | None
    groups: list[tuple[tuple[GroupValue, ...], Usage]]


@dataclass(frozen=True)
class Request:
    """A checked evaluation request (everything but what needs the database)."""

    customer: CustomerRef
    timeframe: tuple[str, str]
    evaluations: list[tuple[PriceEvaluation, Filters, tuple[str, ...], PriceSpec | None]]
    preview: list[tuple[int, Mapping[str, Any], datetime]] | None = None


def customer_ref(customer_id: str | None, external_customer_id: str | None) -> CustomerRef:
    if (customer_id is None) == (external_customer_id is None):
        raise InvalidField("customer_id", "exactly one of customer_id and "
                                          "external_customer_id is required")  # fmt: skip
    return CustomerRef(id=customer_id, external_id=external_customer_id)


def checked(
    ctx: ServiceContext,
    customer: CustomerRef,
    timeframe: tuple[str, str],
    evaluations: Sequence[PriceEvaluation],
    preview: Sequence[Any] | None = None,
    prefix: str = "price_evaluations.",
) -> Request:
    """Everything about a request that can be checked without reading: 400s come first."""
    if len(evaluations) > PRICE_EVALUATIONS_MAX:
        raise InvalidField("price_evaluations", f"at most {PRICE_EVALUATIONS_MAX} prices")
    parts = [_checked_one(ctx, e, f"{prefix}{i}." if prefix else "")
             for i, e in enumerate(evaluations)]  # fmt: skip
    events = None if preview is None else _preview_events(preview)
    return Request(customer, timeframe, parts, events)


def _checked_one(
    ctx: ServiceContext, evaluation: PriceEvaluation, at: str
) -> tuple[PriceEvaluation, Filters, tuple[str, ...], PriceSpec | None]:
    given = [x for x in (evaluation.price_id, evaluation.external_price_id, evaluation.price)
             if x is not None]  # fmt: skip
    if len(given) != 1:
        raise InvalidField(f"{at}price_id", "exactly one of price_id, external_price_id and "
                                            "price is required")  # fmt: skip
    if evaluation.metric_parameter_overrides:
        raise InvalidField(f"{at}metric_parameter_overrides", "drawdown's billable metrics "
                           "have no parameters")  # fmt: skip
    extra = () if evaluation.filter is None else parse_filter(evaluation.filter, f"{at}filter")
    keys = _grouping_keys(evaluation.grouping_keys, f"{at}grouping_keys")
    spec = None
    if evaluation.price is not None:
        spec = price_spec(evaluation.price, ctx.settings, f"{at}price.")
    return evaluation, extra, keys, spec


def _grouping_keys(keys: Sequence[str], at: str) -> tuple[str, ...]:
    if len(keys) > GROUPING_KEYS_MAX:
        raise InvalidField(at, f"at most {GROUPING_KEYS_MAX} grouping keys")
    names = tuple(parse_property(key, f"{at}.{i}") for i, key in enumerate(keys))
    if len(set(names)) != len(names):
        raise InvalidField(at, "a property may be grouped by once")
    return names


def _preview_events(
    events: Sequence[Mapping[str, Any]],
) -> list[tuple[int, Mapping[str, Any], datetime]]:
    if len(events) > PREVIEW_EVENTS_MAX:
        raise InvalidField("events", f"at most {PREVIEW_EVENTS_MAX} preview events")
    found = []
    for index, event in enumerate(events):
        at = f"events.{index}"
        if not isinstance(event.get("event_name"), str) or not event["event_name"].strip():
            raise InvalidField(f"{at}.event_name", "is required")
        errors: list[str] = []
        ingest.check_properties(event.get("properties"), errors)
        if errors:
            raise InvalidField(f"{at}.properties", "; ".join(errors))
        when = resolve_instant(str(event.get("timestamp") or ""), "UTC", field=f"{at}.timestamp")
        found.append((index, event, when))
    return found


# --- evaluation --------------------------------------------------------------------------------


def evaluate(ctx: ServiceContext, request: Request) -> list[Evaluated]:
    """Evaluate every price of ``request`` over the customer's events (or the preview's)."""
    with ctx.db.read() as tx:
        customer = find_customer(tx, request.customer)
        start, end = timeframe(customer, *request.timeframe)
        runs = [_resolve(tx, part, index) for index, part in enumerate(request.evaluations)]
        evaluations = [run for run, _ in runs]
        names = sorted({run.event_name for run in evaluations})
        if request.preview is None and names:
            for batch in stored_events(tx, customer.id, start, end, names):
                for evaluation in evaluations:
                    evaluation.add(batch)
    if request.preview is not None:
        batch = _preview(request.preview, customer, start, end)
        for evaluation in evaluations:
            evaluation.add(batch)
    return [replace(label, groups=run.groups()) for run, label in runs]


def timeframe(customer: Customer, start_text: str, end_text: str) -> tuple[datetime, datetime]:
    """The timeframe's instants (a date alone is midnight in the customer's timezone)."""
    start = resolve_instant(start_text, customer.timezone, field="timeframe_start")
    end = resolve_instant(end_text, customer.timezone, field="timeframe_end")
    if end <= start:
        raise InvalidField("timeframe_end", "must be after timeframe_start")
    if end - start > timedelta(days=TIMEFRAME_DAYS_MAX):
        raise InvalidField("timeframe_start", f"the timeframe may span at most "
                                              f"{TIMEFRAME_DAYS_MAX} days")  # fmt: skip
    return start, end


def _resolve(
    tx: Tx, part: tuple[PriceEvaluation, Filters, tuple[str, ...], PriceSpec | None], index: int
) -> tuple[Evaluation, Evaluated]:
    evaluation, extra, keys, spec = part
    if spec is not None:
        event_name, metric = _inline_metric(tx, spec)
        label = Evaluated(spec.currency, None, None, index, [])
        rate = spec.unit_amount
    else:
        record = catalogue_store.price(tx, evaluation.price_id, evaluation.external_price_id)
        if record is None:
            name = evaluation.price_id or f"external_price_id={evaluation.external_price_id}"
            raise ResourceNotFound("Price", str(name))
        event_name, metric = record.version.event_name, record.version.metric
        rate = record.version.credits_per_unit
        label = Evaluated(record.version.currency, record.id, record.external_price_id, None, [])
    run = Evaluation(event_name, metric, rate, extra=extra, grouping_keys=keys,
                     groups_max=GROUPS_MAX)  # fmt: skip
    return run, label


def _inline_metric(tx: Tx, spec: PriceSpec) -> tuple[str, Metric]:
    if catalogue_store.item(tx, spec.item_id) is None:
        raise ResourceNotFound("Item", spec.item_id)
    assert spec.billable_metric_id is not None
    metric = found_metric(catalogue_store.metric(tx, spec.billable_metric_id),
                          spec.billable_metric_id)  # fmt: skip
    return metric.event_name, metric.metric


def stored_events(
    tx: Tx, customer_id: str, start: datetime, end: datetime, names: Sequence[str]
) -> Iterator[list[UsageEvent]]:
    """The customer's events of ``[start, end)`` with these names, in batches, oldest first."""
    after: tuple[datetime, str] | None = None
    while True:
        batch = usage_store.events_between(tx, customer_id, start, end, after,
                                           EVENTS_PER_READ, names)  # fmt: skip
        if not batch:
            return
        yield batch
        after = (batch[-1].timestamp, batch[-1].idempotency_key)


def _preview(
    events: list[tuple[int, Mapping[str, Any], datetime]], customer: Customer, start: datetime,
    end: datetime,
) -> list[UsageEvent]:  # fmt: skip
    found = []
    for index, event, when in events:
        _same_customer(event, customer, f"events.{index}")
        if start <= when < end:
            found.append(UsageEvent(f"preview-{index}", event["event_name"], when,
                                    dict(event["properties"])))  # fmt: skip
    return found


def _same_customer(event: Mapping[str, Any], customer: Customer, at: str) -> None:
    """A preview event may name the customer evaluated (or no one); never another."""
    named, external = event.get("customer_id"), event.get("external_customer_id")
    if named is not None and named != customer.id:
        raise InvalidField(f"{at}.customer_id", "must be the customer being evaluated")
    if external is not None and external != customer.external_customer_id:
        raise InvalidField(f"{at}.external_customer_id", "must be the customer being evaluated")
