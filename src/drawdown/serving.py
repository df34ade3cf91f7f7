"""Running the HTTP server: one process, or N worker processes sharing one port.

Workers each bind the port themselves with SO_REUSEPORT, so the kernel spreads
connections across them. The socket is created with an explicit IPPROTO_TCP: asyncio
only turns on TCP_NODELAY for sockets whose protocol says TCP, and without it every
response waits out Nagle's algorithm against the client's delayed ACK (~40 ms). This is
also why drawdown does not use uvicorn's own `--workers`, which binds with protocol 0.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
from types import FrameType

import uvicorn

LISTEN_BACKLOG = 2048


def serve_one(host: str, port: int, *, reuse_port: bool = False) -> None:
    """Serve the app (built from the environment) in this process until stopped."""
    # Imported here so worker processes build everything after they start.
    from drawdown.api.app import create_app

    config = uvicorn.Config(create_app(), log_level="warning")
    uvicorn.Server(config).run(sockets=[_listening_socket(host, port, reuse_port)])


def _listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    return sock


def serve_workers(host: str, port: int, workers: int) -> None:
    """Start `workers` processes on one port; stop them all on SIGTERM/SIGINT."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=serve_one, args=(host, port), kwargs={"reuse_port": True})
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
