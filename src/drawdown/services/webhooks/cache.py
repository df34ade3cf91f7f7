"""The process's view of the live webhook endpoints, so a write costs no query for them.

A write evaluates balance alerts only when some endpoint wants a balance event: with no
endpoint configured the check is a look at this in-memory list. The list is loaded on first
use, replaced at once by the process that adds or removes an endpoint, and reloaded by each
serving process's delivery loop every poll (`DRAWDOWN_WEBHOOK_POLL_SECONDS`), so an endpoint
added in another process receives events from within about a second.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from drawdown.records import WebhookEndpoint
from drawdown.store import webhooks as store
from drawdown.store.tx import Tx


class EndpointCache:
    def __init__(self) -> None:
        self._endpoints: tuple[WebhookEndpoint, ...] | None = None
        self._lock = threading.Lock()

    def endpoints(self, tx: Tx) -> tuple[WebhookEndpoint, ...]:
        endpoints = self._endpoints
        if endpoints is None:
            endpoints = tuple(store.live_endpoints(tx))
            self.replace(endpoints)
        return endpoints

    def replace(self, endpoints: Sequence[WebhookEndpoint]) -> None:
        with self._lock:
            self._endpoints = tuple(endpoints)

    def types(self, tx: Tx) -> frozenset[str] | None:
        """Event types some endpoint wants; None means every type (an endpoint without a list)."""
        wanted: set[str] = set()
        for endpoint in self.endpoints(tx):
            if endpoint.events is None:
                return None
            wanted.update(endpoint.events)
        return frozenset(wanted)

    def wants(self, tx: Tx, event_type: str) -> bool:
        types = self.types(tx)
        return types is None or event_type in types

    def subscribers(self, tx: Tx, event_type: str) -> list[str]:
        return [e.id for e in self.endpoints(tx) if e.events is None or event_type in e.events]
