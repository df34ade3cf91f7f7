"""Unexpected failures answer Orb's generic 500 without internals (docs/rules.md §1.8)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from drawdown.app import create_app
from drawdown.services import customers
from drawdown.services.access.api_keys import create_key
from support.contexts import make_context

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


@pytest.fixture
def api(tmp_path: Path) -> tuple[TestClient, dict[str, str]]:
    ctx = make_context(f"sqlite:///{tmp_path / 'e.db'}")
    headers = {"Authorization": f"Bearer {create_key(ctx, 't').secret}"}
    return TestClient(create_app(ctx.settings, ctx), raise_server_exceptions=False), headers


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (RuntimeError("secret detail"), None),
        (OperationalError("q", {}, Exception("locked")), "true"),
    ],
)
def test_unexpected_errors_are_generic_500s(
    api, monkeypatch: pytest.MonkeyPatch, error: Exception, transient: str | None
) -> None:
    client, headers = api

    def boom(*_: object) -> None:
        raise error

    monkeypatch.setattr(customers, "get_customer", boom)
    response = client.get("/v1/customers/abc", headers=headers)
    assert response.status_code == 500
    body = response.json()
    assert body["type"].endswith("#500-internal-server-error")
    assert body["detail"] == "An unexpected error occurred."
    assert "secret" not in response.text and "locked" not in response.text
    assert response.headers.get("transient-error") == transient
