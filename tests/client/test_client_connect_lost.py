"""A connection lost before the namespace is joined, before CONNECT is answered.

With reconnection (the default), the manager's next attempt sends CONNECT again and
``connect()`` waits for it. Without reconnection no attempt follows, so ``connect()`` fails;
it used to wait forever. The server here drops the whole connection from a middleware, on
a real socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import aiosio
from aiosio.client.client import State
from tests.support.servers import running
from tests.support.waits import within

pytestmark = pytest.mark.timeout(60)


def dropping_server(drops: int) -> tuple[aiosio.Server, list[int]]:
    """A server that drops the first ``drops`` connections before CONNECT is answered."""
    io = aiosio.Server()
    attempts: list[int] = []

    @io.use
    async def drop_early(socket: aiosio.Socket) -> None:
        attempts.append(1)
        if len(attempts) <= drops:
            socket.conn.close("transport close")

    return io, attempts


@pytest.fixture
async def dropping_url() -> AsyncIterator[str]:
    io, _ = dropping_server(drops=1_000_000)
    async with running(io) as url:
        yield url


@pytest.mark.parametrize("transports", [["polling", "websocket"], ["websocket"]])
async def test_without_reconnection_connect_raises(
    dropping_url: str, transports: list[str]
) -> None:
    client = aiosio.Client(dropping_url, reconnection=False, transports=transports)
    with pytest.raises(aiosio.ConnectionError, match="lost before connecting"):
        await within(client.connect(), 10)
    assert client.state is State.INACTIVE


async def test_with_reconnection_the_manager_tries_again() -> None:
    io, attempts = dropping_server(drops=1)
    async with running(io) as url:
        client = aiosio.Client(url, reconnection_delay=0.01, reconnection_delay_max=0.02)
        try:
            await within(client.connect(), 10)
            assert client.connected
            assert len(attempts) == 2
        finally:
            await client.disconnect()


async def test_without_reconnection_even_a_retrying_connect_raises(dropping_url: str) -> None:
    client = aiosio.Client(dropping_url, reconnection=False)
    with pytest.raises(aiosio.ConnectionError, match="lost before connecting"):
        await within(client.connect(retry=True), 10)
    assert client.state is State.INACTIVE


async def test_a_retrying_connect_waits_for_the_next_attempt() -> None:
    io, attempts = dropping_server(drops=2)
    async with running(io) as url:
        client = aiosio.Client(url, reconnection_delay=0.01, reconnection_delay_max=0.02)
        try:
            await within(client.connect(retry=True), 10)
            assert client.connected
            assert len(attempts) == 3
        finally:
            await client.disconnect()
