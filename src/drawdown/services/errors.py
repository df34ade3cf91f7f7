"""Errors raised by use cases, named for the rule they break.

Like the ledger core's errors they carry the request field they concern and a
`kind`; `api/errors.py` maps kinds to Orb's error types and HTTP statuses.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "validation", "constraint", "duplicate", "not_found", "conflict", "feature_not_available"
]


class ServiceError(Exception):
    kind: ErrorKind = "validation"

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidField(ServiceError):
    kind = "validation"


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


class Conflict(ServiceError):
    kind = "conflict"
