"""The one table from error to Orb's JSON error object and HTTP status (docs/rules.md §1.8).

Domain and service errors know nothing about HTTP; this module is the only place
that decides their status code, `type` URI and title.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, NotRequired, TypedDict

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.schemas.wire import Doc, Enum
from drawdown.ledger.errors import LedgerError
from drawdown.services.errors import InvalidRequest, ServiceError, database_failure

log = logging.getLogger("drawdown.api")

TYPE_PREFIX = "https://docs.withorb.com/reference/error-responses#"

# kind -> (status, type suffix, title)
ERROR_TYPES: Mapping[str, tuple[int, str, str]] = {
    "validation": (400, "400-request-validation-errors", "Request validation error"),
    "constraint": (400, "400-constraint-violation", "Constraint violation"),
    "duplicate": (400, "400-duplicate-resource-creation", "Duplicate resource creation"),
    "feature_not_available": (400, "404-feature-not-available", "Feature not available"),
    "authentication": (401, "401-authentication-error", "Authentication failure"),
    "not_found": (404, "404-resource-not-found", "A specified resource was not found."),
    "url_not_found": (404, "404-url-not-found", "URL not found"),
    "conflict": (409, "409-resource-conflict", "Resource conflict"),
    "request_too_large": (413, "413-request-too-large", "Request too large"),
    # Not in Orb's catalogue (the SDK maps any 415 to its generic status error); the type
    # follows the catalogue's pattern so the body keeps one shape (docs/rules.md §1.2).
    "unsupported_media_type": (415, "415-unsupported-media-type", "Unsupported media type"),
    "rate_limited": (429, "429-too-many-requests", "Too many requests"),
    "internal": (500, "500-internal-server-error", "Internal server error"),
    # This server refuses to write (its clock strays from the database's, store/clock.py):
    # a 5xx the SDKs retry, which another server behind the same address may answer.
    "unavailable": (503, "500-internal-server-error", "Service unavailable"),
}


class ValidationErrorJson(TypedDict):
    field: str
    message: str


class ValidationFailedJson(TypedDict):
    idempotency_key: str
    validation_errors: list[str]


_INGEST_ONLY = Doc("`POST /ingest` only: each event refused, with its errors.")


class ErrorJson(TypedDict):
    """An Orb error object (RFC 7807 as Orb uses it, docs/rules.md §1.8)."""

    type: Annotated[str, Enum(*sorted({TYPE_PREFIX + t for _, t, _ in ERROR_TYPES.values()}))]
    status: int
    title: str
    detail: str | None
    validation_errors: NotRequired[
        Annotated[list[ValidationErrorJson], Doc("Only on request-validation errors.")]
    ]
    validation_failed: NotRequired[Annotated[list[ValidationFailedJson], _INGEST_ONLY]]


class ApiError(Exception):
    """An error decided at the HTTP edge (bad JSON, bad query, auth, unknown URL)."""

    def __init__(
        self,
        kind: str,
        detail: str | None = None,
        *,
        validation_errors: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.validation_errors = validation_errors
        self.headers = headers


def invalid(field: str, message: str) -> ApiError:
    return ApiError(
        "validation",
        "One or more fields in the request are invalid.",
        validation_errors=[{"field": field, "message": message}],
    )


def error_body(
    kind: str, detail: str | None, validation_errors: Sequence[Mapping[str, str]] | None = None
) -> ErrorJson:
    status, suffix, title = ERROR_TYPES[kind]
    body: ErrorJson = {
        "type": TYPE_PREFIX + suffix,
        "status": status,
        "title": title,
        "detail": detail,
    }
    if kind == "validation":
        body["validation_errors"] = [
            {"field": e["field"], "message": e["message"]} for e in validation_errors or []
        ]
    return body


def error_response(
    kind: str,
    detail: str | None,
    *,
    validation_errors: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = error_body(kind, detail, validation_errors)
    return JSONResponse(body, status_code=body["status"], headers=dict(headers or {}))


def domain_error(error: Exception) -> tuple[int, ErrorJson, dict[str, str]] | None:
    """(status, body, headers) of the Orb error a domain error maps to, or None."""
    if isinstance(error, InvalidRequest):
        body = error_body("validation", "One or more fields in the request are invalid.",
                          error.errors)  # fmt: skip
        return 400, body, {}
    if not isinstance(error, LedgerError | ServiceError):
        return None
    kind, field, message = error.kind, error.field, error.message
    if kind == "validation":
        body = error_body(kind, message, [{"field": field or "body", "message": message}])
    else:
        body = error_body(kind, message)
    # A key reused with another request can never succeed on retry (docs/rules.md §1.9 rule 4).
    retryable = not isinstance(error, ServiceError) or error.retryable
    headers = {} if retryable else {"x-should-retry": "false"}
    if kind == "unavailable":
        headers["Retry-After"] = "1"
    return body["status"], body, headers


def error_response_for(exc: Exception) -> Response | None:
    """The Orb error response for an error raised while serving, or None if unexpected."""
    if isinstance(exc, ApiError):
        return error_response(
            exc.kind, exc.detail, validation_errors=exc.validation_errors, headers=exc.headers
        )
    mapped = domain_error(exc)
    if mapped is not None:
        status, body, headers = mapped
        return ExactJSONResponse(body, status_code=status, headers=headers)
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 405:
            return error_response("url_not_found", "This method is not allowed on this URL.")
        if exc.status_code == 404:
            return error_response("url_not_found", "No such URL.")
    return None


def internal_error_response(exc: BaseException) -> JSONResponse:
    """A 500 that leaks nothing; `Transient-Error: true` when a retry can succeed (§1.8).

    The failed request's transaction was rolled back either way.
    """
    headers = {"Transient-Error": "true"} if database_failure(exc) == "transient" else None
    return error_response("internal", "An unexpected error occurred.", headers=headers)
