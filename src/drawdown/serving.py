"""Running the HTTP server: one process, or N supervised worker processes on one port.

The port is bound before anything says "listening", so a busy or invalid port is one clear
error. Workers each bind the port with SO_REUSEPORT, so the kernel spreads connections
across them; the parent holds a bound (not listening) socket on the same port for its whole
life, which keeps the port reserved while it replaces a worker that died. A worker that
dies is restarted; if workers keep dying right after they start, the parent gives up and
exits non-zero, so a supervisor (systemd, Docker) sees the failure.

Workers are forked from a fork server that imported drawdown once (`WORKER_PRELOAD`): a
fresh interpreter spends seconds importing the web stack on a busy machine (13 s before
the port answered again with every worker dead, issue 23); a fork of the fork server
serves again in 0.3 s.
The fork server is a fresh interpreter started after `PROMETHEUS_MULTIPROC_DIR` is set, so
its imports pick the multiprocess metrics (the parent imported them before that).

Workers die with the parent. A worker's parent is the fork server, not the supervisor, so
`PR_SET_PDEATHSIG` would watch the wrong process; instead each worker watches a pipe whose
write end only the supervisor holds (`multiprocessing.parent_process().sentinel`). When
the supervisor dies, even by SIGKILL, the kernel closes it and the worker stops at once:
SIGTERM to itself (stop accepting, finish what is in flight), SIGKILL if that takes more
than `ORPHAN_GRACE_SECONDS`. The fork server exits when its last worker does.

Sockets are created with an explicit IPPROTO_TCP: asyncio only turns on TCP_NODELAY for
sockets whose protocol says TCP, and without it every response waits out Nagle's algorithm
against the client's delayed ACK (~40 ms). This is also why drawdown does not use
uvicorn's own `--workers`, which binds with protocol 0.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.context import ForkServerProcess
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("drawdown.serving")

LISTEN_BACKLOG = 2048
WORKER_START_SECONDS_MAX = 60
# A worker that dies within this many seconds of starting counts as a failed start.
QUICK_DEATH_SECONDS = 10
QUICK_DEATHS_MAX = 5
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How long an orphaned worker may take to finish its requests before it kills itself.
ORPHAN_GRACE_SECONDS = 5.0
# What the fork server imports once, so that a worker starts without importing anything.
WORKER_PRELOAD = (
    "drawdown.app", "drawdown.serving", "drawdown.store.migrate", "uvloop", "httptools",
    "uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl", "uvicorn.lifespan.on",
)  # fmt: skip


class PortUnavailable(OSError):
    """The address cannot be listened on (in use, not ours, or not an address)."""


def bind(host: str, port: int, *, reuse_port: bool, listen: bool) -> socket.socket:
    """A TCP socket bound to (host, port); PortUnavailable says why not, in one line."""
    if not 0 < port < 65536:
        raise PortUnavailable(f"port {port} is not a TCP port (1-65535)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        reason = ("already in use (is another server running?)" if exc.errno == errno.EADDRINUSE
                  else exc.strerror or str(exc))  # fmt: skip
        raise PortUnavailable(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock


def _uvicorn_config(app: Any) -> uvicorn.Config:
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default
    # FORWARDED_ALLOW_IPS); the app decides whom to believe (DRAWDOWN_TRUSTED_PROXIES).
    return uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="on", log_level="warning",
        access_log=False, timeout_keep_alive=30, log_config=None, proxy_headers=False,
    )  # fmt: skip


def serve(host: str, port: int, processes: int, *, on_listening: Callable[[], None]) -> None:
    """Serve until stopped; `on_listening` runs once every process accepts connections."""
    if processes <= 1:
        sock = bind(host, port, reuse_port=False, listen=True)
        from drawdown.app import create_app  # the web stack loads only when serving

        server = uvicorn.Server(_uvicorn_config(create_app()))
        _announce_when_started(server, on_listening)
        server.run(sockets=[sock])
        if not server.started:
            sys.exit(1)
        return
    Supervisor(host, port, processes).run(on_listening)


def _announce_when_started(server: uvicorn.Server, on_listening: Callable[[], None]) -> None:
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets=sockets)
        if server.started:
            on_listening()

    server.startup = startup  # type: ignore[method-assign]


def serve_worker(host: str, port: int, ready: Any) -> None:
    """One worker process: build the app from the environment and serve the shared port."""
    _stop_when_orphaned()
    sock = bind(host, port, reuse_port=True, listen=True)
    from drawdown.app import StartupError, configure_logging, create_app

    try:
        configure_logging()
        app = create_app()
    except (StartupError, ValueError) as exc:  # a bad setting or an unusable database
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    server = uvicorn.Server(_uvicorn_config(app))
    _announce_when_started(server, ready.set)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(1)


def _stop_when_orphaned() -> None:
    """Stop this worker as soon as the supervisor is gone (see the module docstring)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])  # readable at EOF: the supervisor's end is closed, it is gone
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="drawdown-orphan-watch", daemon=True).start()


class Supervisor:
    """Keeps `processes` workers running; replaces the dead, gives up on a crash loop."""

    def __init__(self, host: str, port: int, processes: int) -> None:
        self.host, self.port, self.processes = host, port, processes
        self.context = multiprocessing.get_context("forkserver")
        # (process, start instant, its ready event): the parent must hold the event for the
        # worker's whole life. Dropped, it is garbage-collected and its semaphore unlinked
        # before a spawned child has unpickled it, and the child dies with FileNotFoundError
        # (seen: one killed worker's replacements all died, so the whole server gave up).
        self.workers: list[tuple[ForkServerProcess, float, Any]] = []
        self.stopping = False
        self.quick_deaths = 0

    def run(self, on_listening: Callable[[], None]) -> None:
        reservation = bind(self.host, self.port, reuse_port=True, listen=False)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        # Workers record metrics into files here, so /metrics sums them (services/telemetry).
        metrics_dir = None
        if not os.environ.get(METRICS_DIR_ENV):
            metrics_dir = tempfile.mkdtemp(prefix="drawdown-metrics-")
            os.environ[METRICS_DIR_ENV] = metrics_dir
        self.context.set_forkserver_preload(list(WORKER_PRELOAD))
        try:
            readies = [self._start() for _ in range(self.processes)]
            if not self._all_started(readies):
                self._terminate_all()
                raise SystemExit("error: the server processes did not start (see above)")
            on_listening()
            self._supervise()
        finally:
            reservation.close()
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
                os.environ.pop(METRICS_DIR_ENV, None)

    def _all_started(self, readies: list[Any]) -> bool:
        """Whether every worker said it serves; False as soon as one has exited."""
        deadline = time.monotonic() + WORKER_START_SECONDS_MAX
        while time.monotonic() < deadline:
            if all(r.is_set() for r in readies):
                return True
            if any(not p.is_alive() for p, _, _ in self.workers):
                return False
            time.sleep(0.05)
        return False

    def _start(self) -> Any:
        ready = self.context.Event()
        process = self.context.Process(target=serve_worker, args=(self.host, self.port, ready))
        process.start()
        self.workers.append((process, time.monotonic(), ready))
        return ready

    def _supervise(self) -> None:
        while not self.stopping:
            sentinels = [p.sentinel for p, _, _ in self.workers]
            wait(sentinels, timeout=1.0)
            for worker in list(self.workers):
                process, started, _ = worker
                if process.is_alive() or self.stopping:
                    continue
                self.workers.remove(worker)
                self._replace(process, started)

    def _replace(self, process: ForkServerProcess, started: float) -> None:
        lived = time.monotonic() - started
        log.warning("worker %s exited with %s after %.1f s; starting another",
                    process.pid, process.exitcode, lived)  # fmt: skip
        self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
        if self.quick_deaths >= QUICK_DEATHS_MAX:
            self._terminate_all()
            raise SystemExit("error: server processes keep exiting right after they start")
        self._start()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        self._terminate_all()

    def _terminate_all(self) -> None:
        for process, _, _ in self.workers:
            if process.is_alive():
                process.terminate()
        for process, _, _ in self.workers:
            process.join(timeout=15)


def check_address(host: str, port: int) -> None:
    """PortUnavailable now if (host, port) cannot be listened on, before any other work."""
    bind(host, port, reuse_port=False, listen=False).close()
