"""Fixtures of the hostile-input suite: an :class:`aiosio.Server` behind each front door.

``serve`` starts a server given to it on a free port, behind the standalone server or
behind the ASGI app under a real uvicorn (the ``door`` parameter), and stops it when the
test ends, after closing every raw connection the test left open.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn
from hostile_support import Serve, Served, close_peers

import aiosio

DOORS = ("standalone", "asgi")


@pytest.fixture(params=DOORS)
def door(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def serve(door: str) -> AsyncIterator[Serve]:
    """``await serve(io)``: ``io`` listening on 127.0.0.1 behind ``door`` for this test."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(io: aiosio.Server) -> Served:
        if door == "standalone":
            port = await io.start("127.0.0.1", 0)
            stops.append(io.close)
            return Served(io, port, door)
        # Bound and listening before uvicorn starts: clients may connect at once.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        config = uvicorn.Config(
            io.asgi_app(), lifespan="on", log_level="error", timeout_graceful_shutdown=5
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))

        async def stop() -> None:
            await io.close()  # sessions first: a held long-poll would delay the shutdown
            server.should_exit = True
            try:
                await task
            finally:
                sock.close()

        stops.append(stop)
        return Served(io, sock.getsockname()[1], door)

    yield start
    await close_peers()
    for stop in reversed(stops):
        await stop()
