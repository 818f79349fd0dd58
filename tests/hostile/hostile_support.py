"""The hostile-input suite's servers and the health check after each attack.

The raw-socket :class:`~tests.support.peers.Peer` and its Engine.IO and Socket.IO helpers
live in :mod:`tests.support.peers`. :func:`assert_healthy` is what every test ends with:
a fresh, well-behaved client connects over WebSocket and over polling and gets the
acknowledgement of an ``echo`` event.

Deadlines, not sleeps: every wait is bounded by ``asyncio.timeout`` (5 s by default,
generous against the few milliseconds things take).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosio
from tests.support.peers import DEADLINE, open_polling, poll, post, sio_websocket


@dataclass
class Served:
    """A running server: the ``io`` object, its port and its front door."""

    io: aiosio.Server
    port: int
    door: str

    @property
    def standalone(self) -> bool:
        return self.door == "standalone"


Serve = Callable[[aiosio.Server], Awaitable[Served]]


async def assert_healthy(port: int) -> None:
    """A fresh well-behaved client gets its acknowledgement, over WebSocket and polling."""
    async with asyncio.timeout(2 * DEADLINE):
        peer = await sio_websocket(port)
        peer.text('421["echo","ok"]')
        while (packet := await peer.packet()) != '431["ok"]':
            assert isinstance(packet, str) and packet.startswith("42"), packet  # events
        peer.text("1")
        await peer.aclose()

        sid = await open_polling(port)
        assert (await post(port, sid, "40")).body == b"ok"
        connected = await poll(port, sid)
        assert connected[0].startswith('40{"sid":'), connected
        assert (await post(port, sid, '421["echo","ok"]')).body == b"ok"
        while '431["ok"]' not in (packets := await poll(port, sid)):
            assert all(p.startswith("42") for p in packets), packets
        await post(port, sid, "1")


def echo_server(**options: Any) -> aiosio.Server:
    """A server whose sockets answer ``echo(*args)`` with their arguments."""
    io = aiosio.Server(**options)

    @io.on("connection")
    def connection(socket: Any) -> None:
        socket.on("echo", lambda *args: args)

    return io


async def wait_for(predicate: Any, timeout: float = DEADLINE) -> None:
    """Wait until ``predicate()`` is true, checking on every loop iteration (no sleeps
    as synchronisation: this only bounds the wait)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - server state with no event to wait on
            await asyncio.sleep(0.005)
