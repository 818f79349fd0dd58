"""Fixtures of the client tests: servers of both kinds, and event recorders.

``server`` is parametrized over ``aiosio`` (our own server, in the test's loop) and
``node`` (the official socket.io 4.8 server, a subprocess). ``start_server(port,
**options)`` starts one more server of the same kind; every server is stopped when its test
ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.client.client_support import NODE, NODE_MODULES, RunningServer, StartServer

KINDS = ("aiosio", "node")
FAST = {"ping_interval": 0.5, "ping_timeout": 0.5}
"""Server options for tests that need quick heartbeats."""


@pytest.fixture(params=KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "node":
        if NODE is None:
            pytest.skip("node is not installed")
        if not (NODE_MODULES / "socket.io").is_dir():
            pytest.fail("tests/interop/node_modules is missing: run `make env`")
    return kind


@pytest.fixture
async def start_server(server_kind: str) -> AsyncIterator[StartServer]:
    """``await start_server(**options)``: a running server, stopped at the end of the test."""
    servers: list[RunningServer] = []

    async def start(port: int = 0, **options: Any) -> RunningServer:
        server = RunningServer(server_kind, options, port)
        servers.append(server)
        return await server.start()

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(start_server: StartServer) -> RunningServer:
    """A server with default options."""
    return await start_server()
