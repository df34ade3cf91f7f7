"""The API keys page: create (secret shown once), list, revoke after confirmation."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.services.access import api_keys
from drawdown.services.errors import ServiceError
from drawdown.store.records import ApiKey
from drawdown.web.auth import checked_form
from drawdown.web.pages import codec_of, context_of, redirect, render

router = APIRouter()
KEYS_PATH = "/console/keys"


@router.get("/keys")
async def keys_page(request: Request, revoked: str | None = None) -> Response:
    """API keys."""
    created = codec_of(request).read_flash(request)
    response = await _render_keys(request, {"revoked": revoked, "created": created})
    if created is not None:
        codec_of(request).clear_flash(request, response, KEYS_PATH)
    return response


@router.post("/keys")
async def create_key(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Create an API key and show its secret once."""
    name = str(form.get("name", ""))
    try:
        created = await run_in_threadpool(api_keys.create_key, context_of(request), name)
    except ServiceError as exc:
        return await _render_keys(request, {"name": name, "errors": {"name": exc.message}}, 400)
    # Redirect, so that reloading the page cannot create a second key; the secret travels
    # once, in a short-lived signed cookie, never in a URL.
    response = redirect(request, KEYS_PATH)
    flash = {"name": created.name, "secret": created.secret}
    codec_of(request).set_flash(request, response, KEYS_PATH, flash)
    return response


@router.get("/keys/{key_id}/revoke")
async def confirm_revoke(request: Request, key_id: str) -> Response:
    """Ask before revoking an API key."""
    key = await _active_key(request, key_id)
    if key is None:
        return _not_found(request)
    return render(request, "revoke.html", {"key": key})


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    request: Request, key_id: str, _: FormData = Depends(checked_form)
) -> Response:
    """Revoke an API key."""
    key = await _active_key(request, key_id)
    if key is None:
        return _not_found(request)
    await run_in_threadpool(api_keys.revoke_key, context_of(request), key_id)
    return redirect(request, f"/console/keys?revoked={key.prefix}")


async def _render_keys(request: Request, extra: dict[str, object], status: int = 200) -> Response:
    keys = await run_in_threadpool(api_keys.list_keys, context_of(request))
    return render(request, "keys.html", {"keys": keys, "nav": "keys", **extra}, status)


async def _active_key(request: Request, key_id: str) -> ApiKey | None:
    keys = await run_in_threadpool(api_keys.list_keys, context_of(request))
    return next((k for k in keys if k.id == key_id and k.revoked_at is None), None)


def _not_found(request: Request) -> Response:
    message = "There is no active API key with this id."
    return render(request, "error.html", {"title": "Not found", "message": message}, 404)
