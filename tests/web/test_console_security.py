"""Console security: sign-in gates every page, CSRF gates every form, keys and sessions
never stand in for each other, and a revoked key stops working at once."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from console_helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TestClient,
    console_app,
    csrf_token,
    sign_in,
)
from fastapi.routing import APIRoute
from itsdangerous import URLSafeTimedSerializer

from drawdown.services.access import api_keys
from drawdown.store import console as console_store
from drawdown.web import login
from drawdown.web.app import PREFIX, PROTECTED_ROUTERS
from drawdown.web.session import COOKIE_NAME, FLASH_COOKIE_NAME


def protected_routes() -> list[tuple[str, str]]:
    """(method, path) of every console route behind sign-in, path parameters filled in."""
    routes = [("GET", PREFIX)]
    for router in PROTECTED_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = re.sub(r"\{[^}]+\}", "some-id", PREFIX + route.path)
            routes += [(method, path) for method in sorted(route.methods)]
    return routes


def post_routes() -> list[str]:
    return [path for method, path in protected_routes() if method == "POST"]


@pytest.fixture
def client(tmp_path: Path):
    with console_app(tmp_path) as (client, _):
        yield client


@pytest.fixture
def app_and_ctx(tmp_path: Path):
    with console_app(tmp_path) as pair:
        yield pair


def test_the_only_public_pages_are_sign_in() -> None:
    assert {route.path for route in login.public.routes} == {"/login"}
    assert len(protected_routes()) >= 8  # the walk found the pages, not an empty list


@pytest.mark.parametrize(("method", "path"), protected_routes())
def test_every_console_route_redirects_to_sign_in_without_a_session(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, data={"csrf_token": "x"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


def test_an_api_key_does_not_open_the_console(app_and_ctx) -> None:
    client, ctx = app_and_ctx
    secret = api_keys.create_key(ctx, "api").secret
    for method, path in protected_routes():
        response = client.request(method, path, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 303, (method, path)


def test_a_console_session_does_not_open_the_api(client: TestClient) -> None:
    sign_in(client)
    cookie = client.cookies.get(COOKIE_NAME)
    assert client.get("/console/customers").status_code == 200
    response = client.get("/v1/customers", headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
    assert response.status_code == 401


def test_a_cookie_signed_with_another_key_is_no_session(client: TestClient) -> None:
    forged = URLSafeTimedSerializer("guess", salt="drawdown.console.session").dumps(
        {"a": "someone", "c": "token"}
    )
    client.cookies.set(COOKIE_NAME, forged, path="/console")
    assert client.get("/console/keys").status_code == 303


def test_wrong_password_is_refused_without_a_session(client: TestClient) -> None:
    token = csrf_token(client)
    response = client.post(
        "/console/login",
        data={"csrf_token": token, "email": ADMIN_EMAIL, "password": "not the password"},
    )
    assert response.status_code == 400
    assert "Wrong email or password" in response.text
    assert client.get("/console/keys").status_code == 303


def test_sign_in_without_csrf_token_is_rejected(client: TestClient) -> None:
    client.get("/console/login")  # the browser has a session cookie, but the form lacks it
    response = client.post(
        "/console/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 403
    assert client.get("/console/keys").status_code == 303


@pytest.mark.parametrize("path", post_routes())
@pytest.mark.parametrize("token", [None, "", "a-token-from-another-session"])
def test_every_form_post_without_the_session_csrf_token_is_rejected(
    app_and_ctx, path: str, token: str | None
) -> None:
    client, ctx = app_and_ctx
    sign_in(client)
    key = api_keys.create_key(ctx, "keep")
    path = path.replace("some-id", key.id)
    data = {"name": "sneaky", "entry_type": "decrement", "amount": "1"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(path, data=data)
    assert response.status_code == 403
    assert "Form rejected" in response.text
    keys = api_keys.list_keys(ctx)
    assert [(k.name, k.revoked_at) for k in keys] == [("keep", None)]
    assert client.get("/console/keys").status_code == 200  # still signed in


def test_session_cookie_is_httponly_strict_and_scoped_to_the_console(client: TestClient) -> None:
    sign_in_response = _sign_in_response(client)
    cookie = sign_in_response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here: a Secure cookie would never come back


def test_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    with console_app(tmp_path, base_url="https://testserver") as (client, _):
        cookie = _sign_in_response(client).headers["set-cookie"]
        assert "Secure" in cookie
        assert client.get("/console/keys").status_code == 200


def test_cookies_are_secure_when_the_operator_says_the_console_is_https(tmp_path: Path) -> None:
    """Behind a TLS proxy that is not trusted to say so, `DRAWDOWN_CONSOLE_HTTPS=on`."""
    with console_app(tmp_path, console_https="on") as (client, _):
        assert "Secure" in client.get("/console/login").headers["set-cookie"]
    (tmp_path / "https").mkdir()
    with console_app(tmp_path / "https", base_url="https://testserver") as (client, _):
        cookies = _sign_in_response(client).headers.get_list("set-cookie")
        assert len(cookies) == 2  # the session and the device token
        assert all("Secure" in cookie for cookie in cookies)


@pytest.mark.parametrize(("peer", "secure"), [("10.1.2.3", True), ("192.0.2.1", False)])
def test_only_a_trusted_proxy_can_say_the_request_came_over_https(
    tmp_path: Path, peer: str, secure: bool
) -> None:
    with console_app(tmp_path, peer=(peer, 4000), trusted_proxies=("10.0.0.0/8",)) as pair:
        client, _ = pair
        response = client.get("/console/login", headers={"X-Forwarded-Proto": "https"})
        assert ("Secure" in response.headers["set-cookie"]) is secure


def test_a_new_keys_secret_never_travels_in_a_cookie(app_and_ctx) -> None:
    """Issue 23: the secret waits on the server, masked, and is shown once; the cookie holds
    only where it waits and the pad that unmasks it."""
    client, ctx = app_and_ctx
    sign_in(client)
    token = csrf_token(client, "/console/keys")
    created = client.post("/console/keys", data={"csrf_token": token, "name": "shown once"})
    flash = created.cookies[FLASH_COOKIE_NAME]
    page = client.get("/console/keys")
    secret = re.search(r'id="new-secret"[^>]*value="([^"]+)"', page.text).group(1)
    assert secret.startswith("dd_")
    cookies = created.headers.get_list("set-cookie") + page.headers.get_list("set-cookie")
    assert cookies and not any(secret in cookie or "dd_" in cookie for cookie in cookies)
    _, payload = URLSafeTimedSerializer("any key").loads_unsafe(flash)
    assert set(payload) == {"r", "p"} and secret not in str(payload)
    with ctx.db.read() as tx:  # shown: the server forgot it
        assert console_store.secrets_named(tx, api_keys.REVEAL_PREFIX) == []
    client.cookies.set(FLASH_COOKIE_NAME, flash, path="/console/keys")  # the cookie replayed
    assert "new-secret" not in client.get("/console/keys").text


def _sign_in_response(client: TestClient):
    token = csrf_token(client)
    return client.post(
        "/console/login",
        data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )


def test_sign_in_rotates_the_csrf_token(client: TestClient) -> None:
    before = csrf_token(client)
    sign_in(client)
    assert csrf_token(client, "/console/keys") != before


def test_sign_out_ends_the_session(client: TestClient) -> None:
    sign_in(client)
    token = csrf_token(client, "/console/keys")
    response = client.post("/console/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert client.get("/console/keys").status_code == 303


def test_sign_out_revokes_a_copied_session_cookie(client: TestClient) -> None:
    """A stolen or copied cookie stops working once its admin signs out."""
    sign_in(client)
    copied = client.cookies.get(COOKIE_NAME)
    token = csrf_token(client, "/console/keys")
    client.post("/console/logout", data={"csrf_token": token})
    assert client.cookies.get(COOKIE_NAME) is None
    response = client.get("/console/keys", headers={"cookie": f"{COOKIE_NAME}={copied}"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    sign_in(client)  # signing in again works, in the new generation
    assert client.get("/console/keys").status_code == 200


def test_after_sign_in_only_console_paths_are_followed(client: TestClient) -> None:
    token = csrf_token(client)
    response = client.post(
        "/console/login",
        data={
            "csrf_token": token,
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "next": "//evil.example/console",
        },
    )
    assert response.headers["location"] == "/console/customers"


def test_a_key_revoked_in_the_console_is_refused_by_the_api(client: TestClient) -> None:
    sign_in(client)
    token = csrf_token(client, "/console/keys")
    created = client.post("/console/keys", data={"csrf_token": token, "name": "short-lived"})
    assert created.status_code == 303
    assert "dd_" not in created.headers["location"]  # the secret never travels in a URL
    page = client.get("/console/keys")
    secret = re.search(r'id="new-secret"[^>]*value="([^"]+)"', page.text).group(1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/customers", headers=bearer).status_code == 200
    assert secret not in client.get("/console/keys").text  # shown once only
    key_id = re.search(r'href="/console/keys/([^/]+)/revoke"', page.text).group(1)
    confirm = client.get(f"/console/keys/{key_id}/revoke")
    assert "cannot be undone" in confirm.text
    token = csrf_token(client, f"/console/keys/{key_id}/revoke")
    revoked = client.post(f"/console/keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.get("/v1/customers", headers=bearer).status_code == 401


def test_console_pages_are_not_cached_and_load_nothing_external(client: TestClient) -> None:
    sign_in(client)
    response = client.get("/console/customers")
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', response.text)


def test_oversized_console_form_is_refused_before_it_is_read(client: TestClient) -> None:
    """The public sign-in form is bounded by the same 1 MiB limit as the API."""
    huge = {"email": "a@example.com", "password": "x" * (1024 * 1024), "csrf_token": "x"}
    response = client.post("/console/login", data=huge)
    assert response.status_code == 413


def test_sign_in_is_throttled_after_five_wrong_passwords(client: TestClient) -> None:
    email = "nobody-" + secrets.token_hex(4) + "@example.com"
    statuses = []
    for _ in range(6):
        token = csrf_token(client)
        response = client.post(
            "/console/login", data={"csrf_token": token, "email": email, "password": "wrong"}
        )
        statuses.append(response.status_code)
    assert statuses == [400, 400, 400, 400, 400, 429]
