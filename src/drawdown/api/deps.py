"""Request plumbing shared by routes: the service context, typed bodies, pages."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from drawdown.api.errors import ApiError
from drawdown.api.jsonio import parse_object
from drawdown.services.context import ServiceContext
from drawdown.services.errors import validation_errors_of

M = TypeVar("M", bound=BaseModel)


def service_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


async def json_object(request: Request) -> dict[str, Any]:
    return parse_object(await request.body())


def validated(model: type[M], body: dict[str, Any]) -> M:
    """`body` checked against a wire model; failures become a 400 naming each field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(
            "validation",
            "One or more fields in the request body are invalid.",
            validation_errors=validation_errors_of(exc),
        ) from exc


def present(model: BaseModel) -> dict[str, Any]:
    """Only the fields the caller actually sent (explicit nulls included)."""
    return {name: getattr(model, name) for name in model.model_fields_set}
