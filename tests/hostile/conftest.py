"""Fixtures of the hostile-input suite: an :class:`aiosio.Server` behind each front door.

``serve`` starts the server given to it behind the standalone server (a port of its own)
or behind the ASGI app under a real uvicorn (the ``door`` parameter), and closes it when
the test ends, after closing every raw connection the test left open.

One uvicorn per test module serves every ASGI test of the module, each with its own
server: starting and stopping uvicorn costs 0.2 s, ten times a hostile test. The modules
therefore run their tests in one event loop (``pytestmark`` of each module).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

import aiosio
from tests.hostile.hostile_support import Serve, Served
from tests.support.peers import close_peers
from tests.support.servers import start_uvicorn

DOORS = ("standalone", "asgi")


class Switch:
    """An ASGI app that hands each request to the app of the test running now."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the servers of the tests are closed by the tests
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def uvicorn_door() -> AsyncIterator[tuple[Switch, int]]:
    """One uvicorn for the module: its switch and its port."""
    switch = Switch()
    port, stop = await start_uvicorn(switch, backlog=1024, log_level="error")
    yield switch, port
    await stop()


@pytest.fixture(params=DOORS)
def door(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(loop_scope="module")
async def serve(door: str, uvicorn_door: tuple[Switch, int]) -> AsyncIterator[Serve]:
    """``await serve(io)``: ``io`` listening on 127.0.0.1 behind ``door`` for this test."""
    servers: list[aiosio.Server] = []

    async def start(io: aiosio.Server) -> Served:
        servers.append(io)
        if door == "standalone":
            return Served(io, await io.start("127.0.0.1", 0), door)
        switch, port = uvicorn_door
        switch.app = io.asgi_app()
        # A mounted app is started by its first request (no lifespan reaches it): make
        # that a request of our own, so the test's first request is timed as its own.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /warm-up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await reader.read()
        writer.close()
        await writer.wait_closed()
        return Served(io, port, door)

    yield start
    await close_peers()
    for io in reversed(servers):
        await io.close()
