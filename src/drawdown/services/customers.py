"""Customer use cases: create, fetch, list, update, delete (docs/rules.md §2.1, R-CUS-*)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drawdown.records import Customer
from drawdown.services import metadata as meta
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import iso_code
from drawdown.services.emails import check_email
from drawdown.services.errors import (
    ConstraintViolation,
    DuplicateExternalId,
    InvalidField,
    ResourceNotFound,
)
from drawdown.services.write_path import CustomerRef, Work, find_customer
from drawdown.store import customers as store
from drawdown.store import invoices as invoice_store
from drawdown.store.tx import Tx

NAME_LENGTH_MAX = 255
EXTERNAL_ID_LENGTH_MAX = 255
EMAILS_MAX = 50
OVERDRAFT_POLICIES = ("allow", "refuse")


def create_customer(fields: Mapping[str, Any]) -> Work[Customer]:
    def create(ctx: ServiceContext, tx: Tx, now: datetime) -> Customer:
        values = _creation_values(ctx, fields, now)
        # The external-id table's key decides races that a lookup could not.
        if not store.insert(tx, values):
            raise DuplicateExternalId(str(values["external_customer_id"]))
        customer = store.get(tx, values["id"])
        assert customer is not None
        return customer

    return Work(create)


def _creation_values(
    ctx: ServiceContext, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    provider = fields.get("payment_provider")
    auto_collection = fields.get("auto_collection")
    email_delivery = fields.get("email_delivery")
    return {
        "id": ctx.new_id(),
        "name": _name(fields.get("name")),
        "email": _email(fields.get("email"), "email"),
        "external_customer_id": _external_id(fields.get("external_customer_id")),
        "currency": _currency(fields.get("currency")),
        "timezone": _timezone(_given(fields.get("timezone"), ctx.settings.default_timezone)),
        "metadata": _new_metadata(ctx, fields.get("metadata")),
        "auto_collection": auto_collection if auto_collection is not None else bool(provider),
        "auto_issuance": fields.get("auto_issuance"),
        "email_delivery": email_delivery if email_delivery is not None else True,
        "additional_emails": _additional_emails(fields.get("additional_emails")),
        "payment_provider": provider,
        "payment_provider_id": fields.get("payment_provider_id"),
        "billing_address": fields.get("billing_address"),
        "shipping_address": fields.get("shipping_address"),
        "tax_id": fields.get("tax_id"),
        "created_at": now,
    }


def _given(value: str | None, default: str) -> str:
    # Only null means "not sent" (§1.6); an empty string is a bad value, not a default.
    return default if value is None else value


def _new_metadata(ctx: ServiceContext, patch: meta.MetadataPatch) -> dict[str, str]:
    meta.validate(patch, ctx.settings)
    return meta.on_create(patch)


def _name(value: str | None) -> str:
    name = (value or "").strip()
    if not 1 <= len(name) <= NAME_LENGTH_MAX:
        raise InvalidField("name", f"must be 1-{NAME_LENGTH_MAX} characters")
    return name


def _email(value: str | None, field: str) -> str:
    return check_email(value or "", field)


def _external_id(value: str | None) -> str | None:
    if value is not None and not 1 <= len(value) <= EXTERNAL_ID_LENGTH_MAX:
        raise InvalidField("external_customer_id", f"must be 1-{EXTERNAL_ID_LENGTH_MAX} characters")
    return value


def _currency(value: str | None) -> str | None:
    if value is None:
        return None
    code = iso_code(value)
    if code is None:
        raise InvalidField("currency", f"{value!r} is not an ISO 4217 currency code")
    return code


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # OSError: a name that is a tzdata directory ("Europe") or too long for a file name.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidField("timezone", f"{value!r} is not an IANA time zone") from exc
    return value


def _additional_emails(value: Sequence[str] | None) -> list[str]:
    emails = list(value or [])
    if len(emails) + 1 > EMAILS_MAX:
        raise InvalidField("additional_emails", f"at most {EMAILS_MAX} addresses in total")
    for index, email in enumerate(emails):
        _email(email, f"additional_emails.{index}")
    return emails


def get_customer(ctx: ServiceContext, ref: CustomerRef) -> Customer:
    with ctx.db.read() as tx:
        return find_customer(tx, ref)


def list_customers(
    ctx: ServiceContext,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Customer]:
    """Up to `limit` customers, newest first, after the keyset `after`."""
    with ctx.db.read() as tx:
        return store.list_page(tx, created_at_filters=created_at_filters, after=after,
                               limit=limit)  # fmt: skip


_PLAIN_UPDATES = (
    "email_delivery",
    "auto_collection",
    "auto_issuance",
    "billing_address",
    "shipping_address",
    "tax_id",
    "payment_provider",
    "payment_provider_id",
)


def update_customer(ref: CustomerRef, fields: Mapping[str, Any]) -> Work[Customer]:
    """Partial update: only keys present in `fields` change (E5/E6)."""

    def update(ctx: ServiceContext, tx: Tx, _now: datetime) -> Customer:
        customer = find_customer(tx, ref, lock=True)
        changes = _update_values(ctx, tx, customer, fields)
        store.update_fields(tx, customer.id, changes)
        updated = store.get(tx, customer.id)
        assert updated is not None
        return updated

    return Work(update, lock=ref.lock_key())


def _update_values(
    ctx: ServiceContext, tx: Tx, row: Customer, fields: Mapping[str, Any]
) -> dict[str, Any]:
    # §1.6: an explicit null means "not sent", except for metadata (clears it).
    fields = {k: v for k, v in fields.items() if v is not None or k == "metadata"}
    changes: dict[str, Any] = {k: fields[k] for k in _PLAIN_UPDATES if k in fields}
    if "name" in fields:
        changes["name"] = _name(fields["name"])
    if "email" in fields:
        changes["email"] = _email(fields["email"], "email")
    if "additional_emails" in fields:
        changes["additional_emails"] = _additional_emails(fields["additional_emails"])
    if "metadata" in fields:
        changes["metadata"] = meta.updated(row.metadata, fields["metadata"], ctx.settings)
    if fields.get("default_payment_method_id") is not None:
        raise ResourceNotFound("PaymentMethod", str(fields["default_payment_method_id"]))
    if fields.get("currency") is not None:
        changes["currency"] = _set_once_currency(row, fields["currency"])
    if fields.get("external_customer_id") is not None:
        changes["external_customer_id"] = _set_once_external_id(
            tx, row, fields["external_customer_id"]
        )
    return changes


def _set_once_currency(row: Customer, value: str) -> str:
    code = _currency(value)
    assert code is not None
    if row.currency is not None and row.currency != code:
        raise ConstraintViolation("currency", "currency can only be set once")
    return code


def _set_once_external_id(tx: Tx, row: Customer, value: str) -> str:
    external_id = _external_id(value)
    assert external_id is not None
    if row.external_customer_id == external_id:
        return external_id
    if row.external_customer_id is not None:
        raise ConstraintViolation(
            "external_customer_id", "external_customer_id can only be set once"
        )
    if not store.add_alias(tx, external_id, row.id):
        raise DuplicateExternalId(external_id)
    return external_id


def delete_customer(ref: CustomerRef) -> Work[None]:
    """Soft delete; refused while the customer has issued or paid invoices (Q23)."""

    def delete(_ctx: ServiceContext, tx: Tx, now: datetime) -> None:
        customer = find_customer(tx, ref, lock=True)
        if invoice_store.has_billed(tx, customer.id):
            raise ConstraintViolation(
                None, "A customer with issued or paid invoices cannot be deleted."
            )
        store.soft_delete(tx, customer, now)

    return Work(delete, lock=ref.lock_key())


__all__ = ["CustomerRef", "create_customer", "delete_customer", "get_customer"]
