"""Console sign-in cannot be used against the server or the admin (issue 11, findings 3, 4).

Driven over HTTP against a real server on SQLite and PostgreSQL. Clients come from
distinct loopback addresses (127.0.x.y all reach a server on 127.0.0.1), so the throttle's
per-address rule can be seen apart from its per-(email, address) rule.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import count

import httpx
import pytest
from sqlalchemy import text

from conftest import Server
from drawdown.services.access import admins, signin
from support.contexts import make_context

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_addresses = count(1)


@pytest.fixture(scope="module")
def admin_email(server: Server) -> str:
    email = f"admin-{secrets.token_hex(4)}@example.com"
    ctx = make_context(server.database_url)
    admins.create_admin(ctx, email, PASSWORD)
    ctx.db.close()
    return email


def new_address() -> str:
    n = next(_addresses)
    return f"127.0.{n // 250 + 10}.{n % 250 + 1}"


@contextmanager
def browser(server: Server, address: str | None = None) -> Iterator[tuple[httpx.Client, str]]:
    """A client from its own loopback address, with the sign-in form's CSRF token."""
    transport = httpx.HTTPTransport(local_address=address or new_address())
    base = server.base_url.removesuffix("/v1")
    with httpx.Client(base_url=base, transport=transport, timeout=60) as client:
        page = client.get("/console/login")
        match = _CSRF.search(page.text)
        assert match is not None
        yield client, match.group(1)


def sign_in(server: Server, email: str, password: str, address: str | None = None) -> int:
    with browser(server, address) as (client, token):
        response = client.post(
            "/console/login", data={"csrf_token": token, "email": email, "password": password}
        )
        return response.status_code


def memory_high_water_kib(server: Server) -> int:
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_parallel_sign_ins_do_not_exhaust_memory(server: Server, admin_email: str) -> None:
    """Finding 3: 240 unknown emails 48 at a time, then 48 wrong passwords for the real
    admin at once, each from its own address: answered, and the server's peak memory grows
    by far less than one 64 MiB password check per request (it was 280 MB -> 2.9 GB)."""
    before = memory_high_water_kib(server)
    unknown = [(f"nobody-{i}-{secrets.token_hex(3)}@example.com", "wrong password") for i in
               range(240)]  # fmt: skip
    real = [(admin_email, f"wrong password {i}") for i in range(48)]
    with ThreadPoolExecutor(48) as pool:
        statuses = list(pool.map(lambda c: sign_in(server, *c), unknown + real))
    assert set(statuses) == {400}, statuses
    grown_mib = (memory_high_water_kib(server) - before) / 1024
    # At most PASSWORD_CHECKS_CONCURRENT_MAX checks of 64 MiB at once, plus the threads.
    assert grown_mib < 64 * admins.PASSWORD_CHECKS_CONCURRENT_MAX + 120, grown_mib
    assert sign_in(server, admin_email, PASSWORD) == 303


def test_a_stranger_cannot_lock_the_admin_out(server: Server, admin_email: str) -> None:
    """Finding 4: five wrong passwords block that (email, address) pair only."""
    stranger = new_address()
    statuses = [sign_in(server, admin_email, "guess", stranger) for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    assert sign_in(server, admin_email, PASSWORD, stranger) == 429  # the pair stays blocked
    assert sign_in(server, admin_email, PASSWORD) == 303  # the admin, elsewhere, signs in


def test_the_throttle_is_shared_by_every_process(server: Server, admin_email: str) -> None:
    """Failures recorded by another process (this one) count in the server's process."""
    address = new_address()
    ctx = make_context(server.database_url)
    for _ in range(signin.FAILURES_MAX):
        signin.failed(ctx, admin_email, address)
    ctx.db.close()
    assert sign_in(server, admin_email, PASSWORD, address) == 429
    assert sign_in(server, admin_email, PASSWORD) == 303


def test_the_throttle_has_a_bounded_size(server: Server) -> None:
    """Finding 3: 450 long unknown emails from one address store at most what the per-address
    limit allows, in rows of a fixed size (a hash, not the email)."""
    address = new_address()
    with server.engine.connect() as conn:
        rows_before = conn.execute(text("SELECT count(*) FROM signin_failures")).scalar_one()
    statuses = []
    with browser(server, address) as (client, token):
        for i in range(450):
            email = f"{'x' * 280}{i}@example.com"
            response = client.post(
                "/console/login", data={"csrf_token": token, "email": email, "password": "p"}
            )
            statuses.append(response.status_code)  # fmt: skip
    assert statuses.count(400) == signin.CLIENT_FAILURES_MAX
    assert statuses.count(429) == 450 - signin.CLIENT_FAILURES_MAX
    with server.engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM signin_failures")).scalar_one()
        longest = conn.execute(text("SELECT max(length(key)) FROM signin_failures")).scalar_one()
    assert rows - rows_before <= 2 * signin.CLIENT_FAILURES_MAX
    assert longest == 64


def test_huge_console_page_numbers_are_page_one_not_a_500(server: Server, admin_email: str) -> None:
    """Finding 5: `/console/customers?page=` with 23 digits (or other scripts' digits)."""
    with browser(server) as (client, token):
        response = client.post("/console/login", data={"csrf_token": token,
                               "email": admin_email, "password": PASSWORD})  # fmt: skip
        assert response.status_code == 303
        for page in ("9" * 23, "\u0667", "-1", "1e5", "9" * 5000):
            listed = client.get("/console/customers", params={"page": page})
            assert listed.status_code == 200, (page, listed.status_code)
        assert client.get("/console/customers").status_code == 200  # same connection
