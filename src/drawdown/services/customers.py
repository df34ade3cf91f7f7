"""Customer use cases: create, fetch, list, update, delete (spec §2.1, R-CUS-*)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

from drawdown.services import metadata as meta
from drawdown.services.context import ServiceContext
from drawdown.services.currencies import iso_code
from drawdown.services.errors import (
    ConstraintViolation,
    DuplicateExternalId,
    InvalidField,
    ResourceNotFound,
)
from drawdown.store import customers as store
from drawdown.store import invoices as invoice_store
from drawdown.store.engine import read_transaction, write_transaction

NAME_LENGTH_MAX = 255
EXTERNAL_ID_LENGTH_MAX = 255
EMAILS_MAX = 50
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class CustomerRef:
    """A customer named by drawdown id or by the caller's external id."""

    id: str | None = None
    external_id: str | None = None

    def describe(self) -> str:
        return self.id if self.id is not None else f"external_customer_id={self.external_id}"


def find(conn: Connection, ref: CustomerRef, *, lock: bool = False) -> RowMapping:
    """The live customer `ref` names (row-locked on PostgreSQL when `lock`), or 404."""
    if ref.id is not None:
        row = store.get(conn, ref.id, lock=lock)
    else:
        assert ref.external_id is not None
        row = store.get_by_external_id(conn, ref.external_id, lock=lock)
    if row is None:
        raise ResourceNotFound("Customer", ref.describe())
    return row


def create_customer(ctx: ServiceContext, fields: Mapping[str, Any]) -> RowMapping:
    values = _creation_values(ctx, fields)
    with write_transaction(ctx.engine) as conn:
        external_id = values["external_customer_id"]
        if external_id is not None and store.external_id_taken(conn, external_id):
            raise DuplicateExternalId(external_id)
        _insert_or_duplicate(conn, values)
        return find(conn, CustomerRef(id=values["id"]))


def _insert_or_duplicate(conn: Connection, values: Mapping[str, Any]) -> None:
    # The partial unique index catches the race the lookup above cannot.
    if not store.insert(conn, values):
        raise DuplicateExternalId(str(values["external_customer_id"]))


def _creation_values(ctx: ServiceContext, fields: Mapping[str, Any]) -> dict[str, Any]:
    provider = fields.get("payment_provider")
    auto_collection = fields.get("auto_collection")
    email_delivery = fields.get("email_delivery")
    values: dict[str, Any] = {
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
        "created_at": ctx.now(),
    }
    return values


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
    if value is None or not _EMAIL.match(value) or len(value) > 320:
        raise InvalidField(field, "must be a valid email address")
    return value


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


def get_customer(ctx: ServiceContext, ref: CustomerRef) -> RowMapping:
    with read_transaction(ctx.engine) as conn:
        return find(conn, ref)


def list_customers(
    ctx: ServiceContext,
    *,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[RowMapping]:
    """Up to `limit` customers, newest first, after the keyset `after`."""
    with read_transaction(ctx.engine) as conn:
        return store.list_page(
            conn, created_at_filters=created_at_filters, after=after, limit=limit
        )


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


def update_customer(ctx: ServiceContext, ref: CustomerRef, fields: Mapping[str, Any]) -> RowMapping:
    """Partial update: only keys present in `fields` change (spec E5/E6)."""
    with write_transaction(ctx.engine) as conn:
        row = find(conn, ref, lock=True)
        changes = _update_values(ctx, conn, row, fields)
        _update_or_duplicate(conn, row["id"], changes)
        return find(conn, CustomerRef(id=row["id"]))


def _update_or_duplicate(conn: Connection, customer_id: str, changes: dict[str, Any]) -> None:
    # As on create: the unique index catches an external id taken since the check.
    if not store.update_fields(conn, customer_id, changes):
        raise DuplicateExternalId(str(changes.get("external_customer_id")))


def _update_values(
    ctx: ServiceContext, conn: Connection, row: RowMapping, fields: Mapping[str, Any]
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
        changes["metadata"] = meta.updated(row["metadata"], fields["metadata"], ctx.settings)
    if fields.get("default_payment_method_id") is not None:
        raise ResourceNotFound("PaymentMethod", str(fields["default_payment_method_id"]))
    if fields.get("currency") is not None:
        changes["currency"] = _set_once_currency(row, fields["currency"])
    if fields.get("external_customer_id") is not None:
        changes["external_customer_id"] = _set_once_external_id(
            conn, row, fields["external_customer_id"]
        )
    return changes


def _set_once_currency(row: RowMapping, value: str) -> str:
    code = _currency(value)
    assert code is not None
    if row["currency"] is not None and row["currency"] != code:
        raise ConstraintViolation("currency", "currency can only be set once")
    return code


def _set_once_external_id(conn: Connection, row: RowMapping, value: str) -> str:
    external_id = _external_id(value)
    assert external_id is not None
    if row["external_customer_id"] == external_id:
        return external_id
    if row["external_customer_id"] is not None:
        raise ConstraintViolation(
            "external_customer_id", "external_customer_id can only be set once"
        )
    if store.external_id_taken(conn, external_id):
        raise DuplicateExternalId(external_id)
    return external_id


def delete_customer(ctx: ServiceContext, ref: CustomerRef) -> None:
    """Soft delete; refused while the customer has issued or paid invoices (Q23)."""
    with write_transaction(ctx.engine) as conn:
        row = find(conn, ref, lock=True)
        if invoice_store.has_billed(conn, row["id"]):
            raise ConstraintViolation(
                None, "A customer with issued or paid invoices cannot be deleted."
            )
        store.update_fields(conn, row["id"], {"deleted_at": ctx.now()})
