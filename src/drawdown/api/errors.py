"""The one table from error to Orb's JSON error object and HTTP status (spec §1.8).

Domain and service errors know nothing about HTTP; this module is the only place
that decides their status code, `type` URI and title.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from drawdown.ledger.errors import LedgerError
from drawdown.services.errors import InvalidRequest, ServiceError, field_errors

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
    "rate_limited": (429, "429-too-many-requests", "Too many requests"),
    "internal": (500, "500-internal-server-error", "Internal server error"),
}


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
) -> dict[str, Any]:
    status, suffix, title = ERROR_TYPES[kind]
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + suffix,
        "status": status,
        "title": title,
        "detail": detail,
    }
    if kind == "validation":
        body["validation_errors"] = list(validation_errors or [])
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


def _domain_error_response(field: str | None, message: str, kind: str) -> JSONResponse:
    if kind == "validation":
        errors = [{"field": field or "body", "message": message}]
        return error_response(kind, message, validation_errors=errors)
    headers = {"x-should-retry": "false"} if kind == "conflict" else None
    return error_response(kind, message, headers=headers)


def install(app: FastAPI) -> None:
    """Register handlers so every failure leaves as an Orb-shaped error."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(
            exc.kind, exc.detail, validation_errors=exc.validation_errors, headers=exc.headers
        )

    @app.exception_handler(LedgerError)
    async def _ledger_error(_: Request, exc: LedgerError) -> Response:
        return _domain_error_response(exc.field, exc.message, exc.kind)

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> Response:
        if isinstance(exc, InvalidRequest):
            return error_response(
                "validation",
                "One or more fields in the request are invalid.",
                validation_errors=exc.errors,
            )
        return _domain_error_response(exc.field, exc.message, exc.kind)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(
            "validation",
            "One or more fields in the request are invalid.",
            validation_errors=field_errors(exc.errors()),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return error_response("url_not_found", "This method is not allowed on this URL.")
        if exc.status_code == 404:
            return error_response("url_not_found", "No such URL.")
        return error_response("internal", "The request failed.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        # §1.8: say when a retry can succeed (a lock or connection timeout, not a bug);
        # the failed request's transaction was rolled back either way.
        transient = isinstance(exc, OperationalError)
        headers = {"Transient-Error": "true"} if transient else None
        return error_response("internal", "An unexpected error occurred.", headers=headers)
