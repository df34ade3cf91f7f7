"""Forwarded headers are believed from trusted proxies only (issue 23, api/forwarded.py)."""

from __future__ import annotations

from typing import Any

import pytest

from drawdown.api.forwarded import TrustedProxies
from drawdown.serving import _uvicorn_config
from drawdown.settings import SettingError, Settings


def resolved(proxies: TrustedProxies, peer: str, **headers: str) -> tuple[str, str]:
    scope: dict[str, Any] = {
        "client": (peer, 51000), "scheme": "http",
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    proxies.resolve(scope)
    return scope["client"][0], scope["scheme"]


NGINX = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])


def test_nobody_is_trusted_by_default_not_even_loopback() -> None:
    nobody = TrustedProxies([])
    assert not nobody
    forged = {"X_Forwarded_For": "203.0.113.7", "X_Forwarded_Proto": "https",
              "Forwarded": "for=203.0.113.7;proto=https"}  # fmt: skip
    assert resolved(nobody, "127.0.0.1", **forged) == ("127.0.0.1", "http")
    assert _uvicorn_config(object()).proxy_headers is False  # uvicorn believes no one either


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("192.0.2.1", "203.0.113.7", "192.0.2.1"),  # not a proxy of ours: its claim is ignored
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the client's own claim
        ("127.0.0.1", "203.0.113.7, 10.1.1.1", "203.0.113.7"),  # through two of our proxies
        ("127.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"),  # every hop ours: the first
        ("127.0.0.1", "203.0.113.7:4711", "203.0.113.7"),
        ("127.0.0.1", "[2001:db8::1]:4711", "2001:db8::1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
        ("127.0.0.1", "unknown", "127.0.0.1"),
        ("127.0.0.1", "not-an-address, 10.1.1.1", "10.1.1.1"),
    ],
)
def test_x_forwarded_for_is_read_right_to_left(peer: str, forwarded_for: str, client: str) -> None:
    assert resolved(NGINX, peer, X_Forwarded_For=forwarded_for)[0] == client


def test_the_scheme_is_the_nearest_proxys() -> None:
    assert resolved(NGINX, "10.0.0.5", X_Forwarded_For="203.0.113.7",
                    X_Forwarded_Proto="https") == ("203.0.113.7", "https")  # fmt: skip
    assert resolved(NGINX, "10.0.0.5", X_Forwarded_For="203.0.113.7",
                    X_Forwarded_Proto="gopher")[1] == "http"  # fmt: skip


def test_only_the_header_the_proxy_writes_is_read() -> None:
    """A proxy that writes one header passes the other through: the client could forge it."""
    headers = {"X_Forwarded_For": "203.0.113.7", "Forwarded": 'for="[2001:db8::5]:80";proto=https'}
    assert resolved(NGINX, "127.0.0.1", **headers) == ("203.0.113.7", "http")
    rfc = TrustedProxies(["127.0.0.1"], "forwarded")
    assert resolved(rfc, "127.0.0.1", **headers) == ("2001:db8::5", "https")
    chain = "for=198.51.100.1, for=203.0.113.7;proto=https, for=127.0.0.1"
    assert resolved(rfc, "127.0.0.1", Forwarded=chain) == ("203.0.113.7", "https")


def test_a_trusted_proxy_setting_that_is_not_an_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRAWDOWN_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(SettingError, match=r"DRAWDOWN_TRUSTED_PROXIES .* 'proxy\.internal'"):
        Settings.from_env()
    monkeypatch.setenv("DRAWDOWN_TRUSTED_PROXIES", " 10.1.2.3 ,2001:db8::/32,")
    assert Settings.from_env().trusted_proxies == ("10.1.2.3/32", "2001:db8::/32")
