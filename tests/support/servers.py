"""Running servers for a test: an :class:`aiosio.Server` on a free port, and any ASGI app
under a real uvicorn.

:func:`running` serves an ``io`` standalone for a block; :func:`start_uvicorn` serves an
ASGI app (``io.asgi_app()``, a router's app, a Starlette app...) and returns its port and
the coroutine that stops it. The fixtures of ``tests/conftest.py``, the hostile suite and
the interop helpers start their servers with these. :func:`start_redis` starts a
throwaway ``redis-server`` (the ``redis_url`` fixture, the Redis restart tests).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

import aiosio
from tests.support.ports import listening_socket

Stop = Callable[[], Awaitable[None]]
REDIS_URL = "redis://127.0.0.1:6379"


@asynccontextmanager
async def running(io: aiosio.Server) -> AsyncIterator[str]:
    """Serve ``io`` on a free port of 127.0.0.1 for the block; yields its URL; closed at
    the end."""
    port = await io.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await io.close()


async def start_uvicorn(
    app: Any,
    *,
    before_stop: Stop | None = None,
    backlog: int = 128,
    **options: Any,
) -> tuple[int, Stop]:
    """Serve any ASGI ``app`` with a real uvicorn on a fresh port: ``(port, stop)``.

    ``options`` go to ``uvicorn.Config`` (``ws="none"``, ``log_level="error"``, say);
    ``before_stop`` runs first when stopping (close the engine, so no held long-poll
    delays the shutdown).
    """
    # The socket is bound and listening before uvicorn starts: clients may connect at
    # once (the backlog holds them), so nothing has to wait for "started".
    sock = listening_socket(backlog)
    port = sock.getsockname()[1]
    settings: dict[str, Any] = {
        "loop": "asyncio",
        "lifespan": "on",
        "log_level": "warning",
        "timeout_graceful_shutdown": 5,
        **options,
    }
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        if before_stop is not None:
            await before_stop()
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()
            # uvicorn returns with connections still open when it did not end them: one
            # accepted as it began shutting down is never told to close (it waits for the
            # client until its graceful timeout, then leaves it). Left open, its transport
            # outlives the test's loop and warns when collected, in whichever test runs
            # then. They are the test's server's: close them, and let the loop do it.
            for connection in list(server.server_state.connections):
                connection.transport.close()
            await asyncio.sleep(0)

    return port, stop


# -- Redis ------------------------------------------------------------------------------


def ping_redis(port: int) -> bool:
    """True when a Redis answers PING on ``port`` of 127.0.0.1 (within 0.5 s)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(port: int, *, daemonize: bool) -> subprocess.Popen[bytes] | None:
    """Start a throwaway redis-server on ``port`` and wait until it answers."""
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    args += ["--save", "", "--appendonly", "no"]
    if daemonize:
        subprocess.run([*args, "--daemonize", "yes"], check=True, capture_output=True)
        process = None
    else:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not ping_redis(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.05)
    return process
