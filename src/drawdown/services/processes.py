"""Serving processes announce themselves in the database they serve, so `drawdown status` can
say who serves it, on this machine or another.

Each serving process registers a row when it starts (host, pid, URL, version), renews its
`seen_at` every `HEARTBEAT_SECONDS` from a thread of its own, and removes the row when it
stops cleanly. A process that died stops renewing: after `LIVE_SECONDS` it is no longer
shown, and a day later the next process that starts forgets it. A heartbeat is one small
write through the one write path; a failed one is logged and tried again next time, and
never stops the server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from drawdown.records import ServingProcess
from drawdown.services import write_path
from drawdown.services.context import ServiceContext
from drawdown.store import status as store
from drawdown.store.tx import Tx

log = logging.getLogger("drawdown.processes")

HEARTBEAT_SECONDS = 10.0
LIVE_SECONDS = 3 * HEARTBEAT_SECONDS  # a process not seen for this long counts as gone
FORGOTTEN_AFTER = timedelta(days=1)
STOP_WAIT_SECONDS = 2.0


def base_url(host: str, port: int) -> str:
    """Where a server listening on (host, port) answers: http://host:port, IPv6 bracketed."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class Presence:
    """This process's row in `server_processes`, kept alive while it serves."""

    def __init__(self, ctx: ServiceContext, url: str, version: str) -> None:
        self.ctx = ctx
        self.id = ctx.new_id()
        self.url, self.version = url, version
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Register and renew from a thread: on SQLite the write runs on the event loop that
        calls this, so it must not wait for it here."""
        self._thread = threading.Thread(target=self._loop, name="drawdown-presence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and remove the row (from a thread other than the event loop's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_SECONDS)
        try:
            write_path.work(lambda tx, _now: store.remove_process(tx, self.id)).run(self.ctx)
        except Exception:  # the database may be gone already; the row then simply ages out
            log.warning("could not remove this process from server_processes", exc_info=True)

    def beat(self) -> None:
        """Renew `seen_at`, registering (again) when the row is missing."""
        write_path.work(self._renew).run(self.ctx)

    def _loop(self) -> None:
        while True:
            try:
                self.beat()
            except Exception:  # the database may be away for a moment: try again next beat
                log.warning("serving-process heartbeat failed", exc_info=True)
            if self._stop.wait(HEARTBEAT_SECONDS):
                return

    def _renew(self, tx: Tx, now: datetime) -> None:
        if store.touch_process(tx, self.id, now):
            return
        store.prune_processes(tx, now - FORGOTTEN_AFTER)
        row = ServingProcess(self.id, socket.gethostname()[:255], os.getpid(), self.url[:255],
                             self.version[:64], now, now)  # fmt: skip
        store.register_process(tx, row)
