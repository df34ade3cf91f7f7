"""An Orb price request body (`prices.create`, an inline price to evaluate) as a `PriceSpec`.

drawdown prices usage in a pricing unit (the ledger: `credits` or another custom unit),
per unit of a billable metric: Orb's `unit` model with `billable_metric_id`. Every other
`model_type` is a `400` naming `model_type`; fields that would change what a unit price
charges and that drawdown does not implement (conversion rates, fixed quantities,
dimensional prices, license types, invoicing cycles, grouping keys, prorating, scaling) are
a `400` naming the field when they are set, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.errors import LedgerError
from drawdown.ledger.metric_sql import MetricDefinition
from drawdown.services import metadata as meta
from drawdown.services.currencies import CUSTOM_UNIT_LENGTH_MAX, iso_code
from drawdown.services.errors import InvalidField
from drawdown.settings import Settings

CADENCES = ("one_time", "monthly", "quarterly", "semi_annual", "annual", "custom")
# The billing cycle Orb shows for each cadence (`custom` takes the request's).
CYCLES = {"one_time": (1, "month"), "monthly": (1, "month"), "quarterly": (3, "month"),
          "semi_annual": (6, "month"), "annual": (12, "month")}  # fmt: skip
NAME_LENGTH_MAX = 255
EXTERNAL_PRICE_ID_LENGTH_MAX = 255
UNSUPPORTED = ("conversion_rate", "conversion_rate_config", "dimensional_price_configuration",
               "fixed_price_quantity", "invoice_grouping_key", "invoicing_cycle_configuration",
               "license_type_id")  # fmt: skip


@dataclass(frozen=True)
class PriceSpec:
    """A checked new price: what it charges, for what, and the fields Orb shows.

    Exactly one of ``billable_metric_id`` (the API) and ``definition`` (the CLI and console,
    whose metric is found or made for the item) says what it counts. ``name`` None means
    the item's name.
    """

    item_id: str
    currency: str
    unit_amount: Decimal
    cadence: str = "monthly"
    cycle: tuple[int, str] = (1, "month")
    name: str | None = None
    billable_metric_id: str | None = None
    definition: MetricDefinition | None = None
    external_price_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    effective_from: datetime | None = None  # default: when it is written


def price_spec(fields: Mapping[str, Any], settings: Settings, prefix: str = "") -> PriceSpec:
    """The checked spec of an Orb price body; ``prefix`` names where it sits in the request."""
    at = _Fields(fields, prefix)
    model = fields.get("model_type")
    if model != "unit":
        message = f"drawdown prices usage with model_type 'unit' only, not {model!r}"
        raise InvalidField(at.name("model_type"), message)
    for name in UNSUPPORTED:
        if fields.get(name) is not None:
            raise InvalidField(at.name(name), "is not supported by drawdown; leave it null")
    if fields.get("billed_in_advance"):
        raise InvalidField(at.name("billed_in_advance"), "usage is deducted after it happens "
                           "(in arrears); leave it null or false")  # fmt: skip
    cadence = at.choice("cadence", CADENCES)
    meta.validate(fields.get("metadata"), settings, at.name("metadata"))
    return PriceSpec(
        item_id=at.text("item_id", 255), currency=pricing_unit(at.text("currency", 64), at),
        unit_amount=_unit_amount(fields.get("unit_config"), at), cadence=cadence,
        cycle=_cycle(cadence, fields.get("billing_cycle_configuration"), at),
        name=at.text("name", NAME_LENGTH_MAX),
        billable_metric_id=at.text("billable_metric_id", 64, why="drawdown prices usage: "
                                   "a price needs the billable metric it counts"),
        external_price_id=at.optional_text("external_price_id", EXTERNAL_PRICE_ID_LENGTH_MAX),
        metadata=meta.on_create(fields.get("metadata")),
    )  # fmt: skip


class _Fields:
    """Typed reads of one request object, errors naming the field with its prefix."""

    def __init__(self, fields: Mapping[str, Any], prefix: str) -> None:
        self.fields, self.prefix = fields, prefix

    def name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def text(self, name: str, limit: int, why: str | None = None) -> str:
        value = self.fields.get(name)
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
            raise InvalidField(self.name(name), why or f"is required: 1-{limit} characters")
        return value.strip()

    def optional_text(self, name: str, limit: int) -> str | None:
        return None if self.fields.get(name) is None else self.text(name, limit)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.fields.get(name)
        if value not in allowed:
            raise InvalidField(self.name(name), f"must be one of {', '.join(allowed)}")
        assert isinstance(value, str)
        return value


def pricing_unit(currency: str, at: _Fields | None = None) -> str:
    """Usage draws credits: a custom pricing unit (`credits` by default), never cash."""
    name = "currency" if at is None else at.name("currency")
    unit = currency.strip()
    if not 1 <= len(unit) <= CUSTOM_UNIT_LENGTH_MAX:
        raise InvalidField(name, f"must be 1-{CUSTOM_UNIT_LENGTH_MAX} characters")
    if iso_code(unit) is not None:
        raise InvalidField(name, "must be a pricing unit such as credits, not a currency: "
                                 "usage is priced in the credits it draws")  # fmt: skip
    return unit


def _unit_amount(config: object, at: _Fields) -> Decimal:
    field = at.name("unit_config")
    if not isinstance(config, Mapping):
        raise InvalidField(field, 'is required: {"unit_amount": "<decimal>"}')
    if config.get("scaling_factor") is not None or config.get("prorated"):
        raise InvalidField(f"{field}.scaling_factor", "scaling_factor and prorated are not "
                           "supported by drawdown; leave them null")  # fmt: skip
    raw = config.get("unit_amount")
    if not isinstance(raw, str):
        raise InvalidField(f"{field}.unit_amount", "is required: a decimal string")
    return credits_per_unit(raw, f"{field}.unit_amount")


def credits_per_unit(raw: str, field: str) -> Decimal:
    try:
        rate = to_decimal(raw, field=field)
    except LedgerError as exc:
        raise InvalidField(field, exc.message) from exc
    if rate < 0:
        raise InvalidField(field, "must be greater than or equal to 0")
    return rate


def _cycle(cadence: str, config: object, at: _Fields) -> tuple[int, str]:
    field = at.name("billing_cycle_configuration")
    if config is None:
        if cadence == "custom":
            raise InvalidField(field, "is required with cadence custom")
        return CYCLES[cadence]
    if not isinstance(config, Mapping):
        raise InvalidField(field, 'must be {"duration": N, "duration_unit": day|month}')
    duration, unit = config.get("duration"), config.get("duration_unit")
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 366:
        raise InvalidField(f"{field}.duration", "must be an integer from 1 to 366")
    if unit not in ("day", "month"):
        raise InvalidField(f"{field}.duration_unit", "must be day or month")
    return duration, unit
