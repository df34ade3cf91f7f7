"""The console's forms: ledger entries (what each shows, and how a post becomes an API
request), the credit settings and the balance alerts.

A form post is turned into the same dict the JSON API receives and validated by the API's
own `entry_request`, then written by the same `services.credits.entries.create_entry`; so a form
can accept exactly what the API accepts and fails with the API's messages, field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drawdown.ledger.amounts import to_decimal
from drawdown.ledger.errors import LedgerError
from drawdown.services import balance_alerts
from drawdown.services.context import ServiceContext
from drawdown.services.credits import credit_settings, entries
from drawdown.services.entry_input import entry_request
from drawdown.services.errors import InvalidRequest, ServiceError
from drawdown.services.write_path import CustomerRef

FORM_LEVEL = "form"  # errors that belong to no visible field are shown above the form


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | decimal | date | block | reason | hidden
    hint: str = ""


@dataclass(frozen=True)
class EntryForm:
    entry_type: str
    title: str
    fields: tuple[Field, ...]
    submit: str

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


_AMOUNT = Field("amount", "Amount", "decimal")
_BLOCK = Field("block_id", "Credit block", "block")
_DESCRIPTION = Field("description", "Description")
_LEDGER = Field("currency", "Currency", "hidden")

ENTRY_FORMS: tuple[EntryForm, ...] = (
    EntryForm("increment", "Add credits", (
        _AMOUNT,
        Field("currency", "Currency", hint="ISO code or a custom unit such as credits"),
        Field("effective_date", "Effective date", "date", "Empty means now"),
        Field("expiry_date", "Expiry date", "date", "Empty means never"),
        Field("per_unit_cost_basis", "Cost basis per unit", "decimal"),
        _DESCRIPTION,
    ), "Add credits"),
    EntryForm("decrement", "Deduct credits", (_AMOUNT, _LEDGER, _DESCRIPTION), "Deduct"),
    EntryForm("void", "Void credits", (
        _BLOCK, _AMOUNT, Field("void_reason", "Reason", "reason"), _LEDGER, _DESCRIPTION,
    ), "Void"),
    EntryForm("amendment", "Amend a block", (_BLOCK, _AMOUNT, _LEDGER, _DESCRIPTION), "Amend"),
    EntryForm("expiration_change", "Change an expiry date", (
        _BLOCK,
        Field("expiry_date", "Current expiry date", "date", "Or pick the block"),
        Field("target_expiry_date", "New expiry date", "date"),
        Field("amount", "Amount", "decimal", "Empty moves the whole remaining balance"),
        _LEDGER,
        _DESCRIPTION,
    ), "Change expiry"),
)  # fmt: skip
FORMS_BY_TYPE = {form.entry_type: form for form in ENTRY_FORMS}


@dataclass(frozen=True)
class Submission:
    """What the customer page needs to show a failed form again: its values and errors."""

    entry_type: str
    values: Mapping[str, str]
    errors: Mapping[str, str]


def api_request(entry_type: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The JSON body the API would have received; empty inputs mean "not sent"."""
    form = FORMS_BY_TYPE[entry_type]
    raw: dict[str, Any] = {"entry_type": entry_type}
    for name in form.names:
        value = values.get(name, "").strip()
        if value:
            raw[name] = value
    return raw


def submit(
    ctx: ServiceContext, customer_id: str, entry_type: str, values: Mapping[str, str]
) -> Submission | None:
    """Create the entry; None on success, else the submission with its errors by field."""
    form = FORMS_BY_TYPE.get(entry_type)
    if form is None:
        return Submission(entry_type, values, {FORM_LEVEL: "Unknown kind of ledger entry."})
    try:
        entry = entry_request(api_request(entry_type, values))
        entries.create_entry(CustomerRef(id=customer_id), entry).run(ctx)
    except InvalidRequest as exc:
        return Submission(entry_type, values, placed(form, api_error_fields(exc)))
    except (LedgerError, ServiceError) as exc:
        return Submission(entry_type, values, placed(form, {exc.field or FORM_LEVEL: exc.message}))
    return None


def api_error_fields(exc: InvalidRequest) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc.errors}


def placed(form: EntryForm, errors: Mapping[str, str]) -> dict[str, str]:
    """Errors keyed by a field the form shows, the rest gathered under FORM_LEVEL."""
    visible = {f.name for f in form.fields if f.kind != "hidden"}
    result = {k: v for k, v in errors.items() if k in visible}
    stray = [f"{k}: {v}" for k, v in errors.items() if k not in visible]
    if stray:
        result[FORM_LEVEL] = "; ".join(stray)
    return result


def save_settings(
    ctx: ServiceContext, customer_id: str, currency: str, values: Mapping[str, str]
) -> str | None:
    """The credit-settings form: the overdraft policy, and the thresholds of one ledger
    (comma-separated; the other ledgers' thresholds are kept). None, or the error shown."""
    ref = CustomerRef(id=customer_id)
    try:
        current = credit_settings.get_settings(ctx, ref)
        given = [v.strip() for v in values.get("thresholds", "").split(",") if v.strip()]
        ledger = currency or "credits"
        kept = [credit_settings.Threshold(c, v) for c, v in current.thresholds if c != ledger]
        new = [credit_settings.Threshold(ledger, to_decimal(v, field="thresholds")) for v in given]
        update = credit_settings.SettingsUpdate(
            overdraft=values.get("overdraft") or None, overdraft_sent=True,
            balance_alert_thresholds=kept + new, balance_alert_thresholds_sent=True,
        )  # fmt: skip
        credit_settings.update_settings(ref, update).run(ctx)
    except (LedgerError, ServiceError) as exc:
        return f"{exc.field}: {exc.message}" if exc.field else exc.message
    return None


def add_alert(
    ctx: ServiceContext, customer_id: str, currency: str, values: Mapping[str, str]
) -> str | None:
    """The add-alert form: a balance alert of the chosen type for the ledger in view
    (thresholds comma-separated, dropped alerts only). None, or the error shown."""
    try:
        given = [v.strip() for v in values.get("thresholds", "").split(",") if v.strip()]
        thresholds = [to_decimal(v, field="thresholds") for v in given]
        alert = balance_alerts.NewAlert(currency or "credits", values.get("type"), thresholds)
        balance_alerts.create_alert(CustomerRef(id=customer_id), alert).run(ctx)
    except (LedgerError, ServiceError) as exc:
        return f"{exc.field}: {exc.message}" if exc.field else exc.message
    return None


def toggle_alert(ctx: ServiceContext, customer_id: str, alert_id: str, enabled: bool) -> str | None:
    """Enable or disable one of the customer's alerts (the API's own use case)."""
    try:
        balance_alerts.set_enabled(CustomerRef(id=customer_id), alert_id, enabled).run(ctx)
    except ServiceError as exc:
        return exc.message
    return None
