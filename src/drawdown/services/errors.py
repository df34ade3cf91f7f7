"""Errors raised by use cases, named for the rule they break.

Like the ledger core's errors they carry the request field they concern and a
`kind`; `api/errors.py` maps kinds to Orb's error types and HTTP statuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from drawdown.store.errors import database_error_kind

ErrorKind = Literal[
    "validation",
    "constraint",
    "duplicate",
    "not_found",
    "conflict",
    "feature_not_available",
    "unavailable",
]


class ServiceError(Exception):
    kind: ErrorKind = "validation"
    retryable = True  # False: the same request can never succeed (no SDK retry)

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidField(ServiceError):
    kind = "validation"


class WritesUnavailable(ServiceError):
    """This process refuses to write for now (its clock strays from the database's): a 503
    the SDKs retry, which another server may answer."""

    kind = "unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class InvalidRequest(ServiceError):
    """A request body that does not have the required shape; names every bad field."""

    kind = "validation"

    def __init__(self, errors: Sequence[Mapping[str, str]]) -> None:
        first = errors[0] if errors else {"field": "body", "message": "is invalid"}
        super().__init__(first["field"], first["message"])
        self.errors = [dict(e) for e in errors] or [dict(first)]

    @classmethod
    def one(cls, field: str, message: str) -> InvalidRequest:
        return cls([{"field": field, "message": message}])


def validation_errors_of(exc: ValidationError) -> list[dict[str, str]]:
    return field_errors(exc.errors())


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic-style errors as {field, message} pairs (docs/rules.md §1.8; dotted paths)."""
    result = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        result.append({"field": ".".join(loc) or "body", "message": str(error.get("msg"))})
    return result


class ConstraintViolation(ServiceError):
    kind = "constraint"


class DuplicateExternalId(ServiceError):
    kind = "duplicate"

    def __init__(self, external_customer_id: str) -> None:
        super().__init__(
            "external_customer_id",
            f"A customer with external_customer_id {external_customer_id!r} already exists.",
        )


class ResourceNotFound(ServiceError):
    kind = "not_found"

    def __init__(self, resource_type: str, identifier: str) -> None:
        super().__init__(
            None,
            f"Could not find a resource of type {resource_type} with identifier: {identifier}",
        )
        self.resource_type = resource_type


def database_failure(error: BaseException) -> Literal["transient", "other"] | None:
    """What an unexpected exception says about the database, for the faces' answers and
    metrics: "transient" (a lock timeout or a lost connection: the same request can succeed
    on retry), "other" for any other database error, None when it did not come from the
    database. The faces ask here so that they never import the store."""
    kind = database_error_kind(error)
    return None if kind is None else ("transient" if kind == "transient" else "other")
