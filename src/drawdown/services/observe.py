"""A small observer use cases report to, so metrics and logs need no imports from them.

The composition root subscribes listeners (Prometheus counters, for one); services only
call `observer.emit(name, **labels)`. With no listener, an emit costs a dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Listener = Callable[..., None]


class Observer:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def subscribe(self, name: str, listener: Listener) -> None:
        self._listeners.setdefault(name, []).append(listener)

    def emit(self, name: str, **labels: Any) -> None:
        for listener in self._listeners.get(name, ()):
            listener(**labels)
