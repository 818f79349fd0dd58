"""aiosio.server.disconnecting: a socket's departure, from either side.

A real server and a real client connected in memory (aiosio.testing): no socket, no
port, no sleep; a test waits on queues that handlers fill, or on a pending ack.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import Disconnected
from tests.support.sockets import pair
from tests.support.waits import within


async def test_disconnect_reasons_and_order_of_disconnecting_and_disconnect() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        socket.join("room")
        seen: list[tuple[str, str, set[str]]] = []
        done: asyncio.Queue[str] = asyncio.Queue()
        client_reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", lambda reason, *_: client_reasons.put_nowait(reason))
        socket.on(
            "disconnecting", lambda reason: seen.append(("disconnecting", reason, socket.rooms))
        )

        @socket.on("disconnect")
        def on_disconnect(reason: str, description: Any) -> None:
            seen.append(("disconnect", reason, socket.rooms))
            done.put_nowait(description)

        assert socket.connected and not socket.disconnected
        assert socket.disconnect() is socket
        assert not socket.connected and socket.disconnected
        assert seen == [
            ("disconnecting", "server namespace disconnect", {socket.id, "room"}),
            ("disconnect", "server namespace disconnect", set()),
        ]
        assert await within(done.get()) is None
        assert await within(client_reasons.get()) == "io server disconnect"
        assert socket.disconnect() is socket  # again: nothing happens
        assert len(seen) == 2
        assert socket not in io.sockets.sockets.values()


async def test_disconnect_with_close_ends_the_whole_connection() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        server_reasons: asyncio.Queue[str] = asyncio.Queue()
        client_reasons: asyncio.Queue[str] = asyncio.Queue()
        socket.on("disconnect", lambda reason, *_: server_reasons.put_nowait(reason))
        client.on("disconnect", lambda reason, *_: client_reasons.put_nowait(reason))
        socket.disconnect(close=True)
        assert io.engine.sessions == {}  # the Engine.IO session is gone at once
        assert await within(server_reasons.get()) == "server namespace disconnect"
        assert await within(client_reasons.get()) == "io server disconnect"
        assert not client.active


async def test_client_disconnect_and_drop_reasons() -> None:
    io = aiosio.Server()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        sockets.put_nowait(socket)

    async with aiosio.testing.serve(io) as served:
        leaving = await within(served.connect())
        await within(sockets.get())
        await leaving.disconnect()
        assert await within(reasons.get()) == "client namespace disconnect"

        dropped = await within(served.connect(reconnection=False))
        socket = await within(sockets.get())
        aiosio.testing.drop(dropped)
        assert await within(reasons.get()) == "transport error"
        assert not socket.connected


async def test_a_pending_ack_fails_with_disconnected_when_the_socket_leaves() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        delivered: asyncio.Queue[str] = asyncio.Queue()
        client.on("hold", lambda name, *, ack: delivered.put_nowait(name))
        plain: list[tuple[Any, ...]] = []
        waiting = asyncio.ensure_future(socket.emit_with_ack("hold", "awaited"))
        socket.emit("hold", "plain", callback=lambda *args: plain.append(args))
        assert {await within(delivered.get()), await within(delivered.get())} == {
            "awaited",
            "plain",
        }
        socket.disconnect()
        with pytest.raises(Disconnected, match=r"^the socket disconnected$"):
            await within(waiting)
        assert plain == []  # a plain callback is not error-first: it is never called
        with pytest.raises(Disconnected, match=r"^the socket is disconnected$"):
            await socket.emit_with_ack("hold", "late")
        socket.emit("hold", "dropped")  # silently dropped once disconnected
