"""Fixtures of the client tests: servers of both kinds, and event recorders.

``server`` is parametrized over ``aiosio`` (our own server, in the test's loop) and
``node`` (the official socket.io 4.8 server, a subprocess). ``start_server(port,
**options)`` starts one more server of the same kind; every server is stopped when its test
ends.

The Node ``server`` (default options) is one per test module: starting Node and loading
socket.io was most of a Node test's set-up. The tests that share it only connect clients
of their own to it (names and keys of their own; their clients gone by their end); a test
that stops or restarts its server, or gives it options, takes one from ``start_server()``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.client.client_support import (
    NODE,
    NODE_MODULES,
    NODE_SERVER,
    RunningServer,
    SharedNodeServer,
    StartServer,
    node_config,
)

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


@pytest.fixture(scope="module")
def shared_node_server() -> Iterator[SharedNodeServer]:
    """node_server.js with default options for the tests of a module (killed at its end)."""
    assert NODE is not None
    process = subprocess.Popen(
        [NODE, str(NODE_SERVER), node_config({})],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # {"port": N} once listening
        assert line, "the Node server exited before listening"
        yield SharedNodeServer(json.loads(line)["port"])
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
async def server(
    server_kind: str, start_server: StartServer, request: pytest.FixtureRequest
) -> RunningServer:
    """A server with default options, not to be stopped (the Node one is shared)."""
    if server_kind == "node":
        shared: SharedNodeServer = request.getfixturevalue("shared_node_server")
        return shared
    return await start_server()
