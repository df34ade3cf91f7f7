"""The API keys page: create (secret shown once), list, revoke after confirmation."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.records import ApiKey
from drawdown.services.access import api_keys
from drawdown.services.errors import ServiceError
from drawdown.web.auth import checked_form
from drawdown.web.pages import codec_of, context_of, redirect, render

router = APIRouter()
KEYS_PATH = "/console/keys"


@router.get("/keys")
async def keys_page(request: Request, revoked: str | None = None) -> Response:
    """API keys."""
    flash = codec_of(request).read_flash(request)
    created = None
    if (
        isinstance(flash, dict)
        and isinstance(flash.get("r"), str)
        and isinstance(flash.get("p"), str)
    ):
        held = api_keys.Reveal(record_id=flash["r"], pad=flash["p"])
        created = await run_in_threadpool(api_keys.reveal, context_of(request), held)
    response = await _render_keys(request, {"revoked": revoked, "created": created})
    if flash is not None:
        codec_of(request).clear_flash(request, response, KEYS_PATH)
    return response


@router.post("/keys")
async def create_key(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """Create an API key and show its secret once."""
    name = str(form.get("name", ""))
    ctx = context_of(request)
    try:
        held = await run_in_threadpool(api_keys.create_key_to_reveal, ctx, name)
    except ServiceError as exc:
        return await _render_keys(request, {"name": name, "errors": {"name": exc.message}}, 400)
    # Redirect, so that reloading the page cannot create a second key. The secret waits on
    # the server for the next page (services/access/api_keys.py); the short-lived cookie
    # holds only where it waits and the pad that unmasks it, never the secret or a URL.
    response = redirect(request, KEYS_PATH)
    codec_of(request).set_flash(request, response, KEYS_PATH, {"r": held.record_id,
                                                              "p": held.pad})  # fmt: skip
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
