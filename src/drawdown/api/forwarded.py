"""Where a request comes from, and whether it came over HTTPS, behind trusted proxies only.

Forwarded headers are written by whoever sends the request, so they are believed only when
the connection's peer is a proxy the operator names (`DRAWDOWN_TRUSTED_PROXIES`, IP
addresses or CIDR networks; none by default, so a header from anyone, loopback included,
changes nothing). From such a peer only the header its proxy writes is read
(`DRAWDOWN_FORWARDED_HEADER`: `X-Forwarded-For`, or RFC 7239 `Forwarded`); a proxy passes
the other one through untouched, so the client could forge it. Each proxy appends the
address it received the request from, so the list is read right to left and the first
address that is not a trusted proxy is the client's; what lies left of it is the client's
own claim and is ignored. The scheme is the nearest proxy's (`X-Forwarded-Proto`, or the
`proto` of the client's `Forwarded` element).

`Front` (app.py) applies this once per request, so the console's sign-in, the access log and
everything else see one address (`scope["client"]`) and one scheme (`scope["scheme"]`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")
HOPS_MAX = 32  # a longer chain is not a real proxy chain; only its right end is read


class TrustedProxies:
    """The peers whose forwarded headers are believed, and which header they write."""

    def __init__(self, networks: Iterable[str], header: str = "x-forwarded-for") -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in networks)
        self.header = header

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in n for n in self.networks)

    def resolve(self, scope: Scope) -> None:
        """Set the scope's client and scheme from the forwarded header, when the peer is a
        trusted proxy; otherwise leave the connection's own values."""
        peer = scope.get("client")
        if not self.networks or peer is None or not self.trusts(peer[0]):
            return
        if self.header == "forwarded":
            hops = _forwarded_hops(scope)
        else:
            hops = [(_host(item), None) for item in _values(scope, b"x-forwarded-for")]
            protos = _values(scope, b"x-forwarded-proto")
            _set_scheme(scope, protos[-1] if protos else None)  # the nearest proxy's
        for host, scheme in reversed(hops[-HOPS_MAX:]):
            if _address(host) is None:
                return  # "unknown", an obfuscated name or garbage: keep what we know
            _set_scheme(scope, scheme)
            scope["client"] = (host, 0)
            if not self.trusts(host):
                return


def _set_scheme(scope: Scope, scheme: str | None) -> None:
    if scheme is not None and scheme.lower() in SCHEMES:
        scope["scheme"] = scheme.lower()


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _values(scope: Scope, name: bytes) -> list[str]:
    """Every comma-separated item of every header `name`, in order."""
    items: list[str] = []
    for key, value in scope["headers"]:
        if key == name:
            items += [item.strip() for item in value.decode("latin-1").split(",")]
    return items


def _forwarded_hops(scope: Scope) -> list[tuple[str, str | None]]:
    """(for, proto) per element of RFC 7239 `Forwarded`."""
    hops: list[tuple[str, str | None]] = []
    for element in _values(scope, b"forwarded"):
        pairs = dict(_pair(part) for part in element.split(";") if "=" in part)
        hops.append((_host(pairs.get("for", "")), pairs.get("proto")))
    return hops


def _pair(part: str) -> tuple[str, str]:
    name, _, value = part.partition("=")
    return name.strip().lower(), value.strip().strip('"')


def _host(node: str) -> str:
    """The address of an `X-Forwarded-For` item or a `for=` node, without its port:
    `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]:4711`, `2001:db8::1`."""
    node = node.strip().strip('"')
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    if node.count(":") == 1:
        return node.split(":")[0]
    return node
