"""Helpers shared by the console tests: an in-process app with an admin, and form plumbing."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drawdown.app import create_app
from drawdown.services.access import admins
from drawdown.services.context import ServiceContext
from support.contexts import make_context

with warnings.catch_warnings():
    # Starlette 1.x nudges towards `httpx2`, which is not a dependency here; plain httpx works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def console_app(
    tmp_path: Path,
    base_url: str = "http://testserver",
    peer: tuple[str, int] = ("testclient", 50000),
    **settings: Any,
) -> Iterator[tuple[TestClient, ServiceContext]]:
    """The app on a fresh database with one admin; `peer` is the connection's address and
    `settings` override the defaults."""
    ctx = make_context(f"sqlite:///{tmp_path / 'console.db'}", **settings)
    admins.create_admin(ctx, ADMIN_EMAIL, ADMIN_PASSWORD)
    app = create_app(ctx.settings, ctx)
    client = TestClient(app, base_url=base_url, follow_redirects=False, client=peer)
    with client:  # runs the app's lifespan, which closes the database at the end
        yield client, ctx


def csrf_token(client: TestClient, path: str = "/console/login") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    match = _CSRF.search(response.text)
    assert match is not None, "page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient) -> None:
    token = csrf_token(client)
    response = client.post(
        "/console/login",
        data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/customers"
