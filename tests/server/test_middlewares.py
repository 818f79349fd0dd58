"""aiosio.server.middlewares: a socket's packet middlewares, and refused packets.

A real server and a real client connected in memory (aiosio.testing): no socket, no
port, no sleep; a test waits on an ack round trip or on queues that handlers fill.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio
from aiosio.exceptions import AckTimeout
from tests.support.sockets import pair
from tests.support.waits import within


async def test_packet_middlewares_run_in_order_and_may_change_the_packet() -> None:
    io = aiosio.Server()
    order: list[str] = []

    def upper(packet: list[Any]) -> None:
        order.append("upper")
        packet[1] = packet[1].upper()

    async def append(packet: list[Any]) -> None:
        order.append("append")
        await asyncio.sleep(0)  # a real await between middlewares
        packet.append("added")

    def last(packet: list[Any]) -> None:
        order.append("last")

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.use(upper)
        socket.use(append)
        socket.use(last)
        socket.on("shout", lambda *args: args)

    async with pair(io) as (client, _):
        answer = await within(client.emit_with_ack("shout", "hi", timeout=1))
        assert answer == ("HI", "added")
        assert order == ["upper", "append", "last"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_refusing_packet_middleware_drops_the_event_and_fires_error(kind: str) -> None:
    io = aiosio.Server()
    errors: asyncio.Queue[Exception] = asyncio.Queue()
    handled: list[Any] = []
    heard_by_any: list[str] = []

    def refuse_sync(packet: list[Any]) -> None:
        if packet[0] == "forbidden":
            raise PermissionError("not you")

    async def refuse_async(packet: list[Any]) -> None:
        refuse_sync(packet)

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.use(refuse_sync if kind == "sync" else refuse_async)
        socket.on("forbidden", lambda: handled.append("forbidden"))
        socket.on("allowed", lambda: "ok")
        socket.on("error", errors.put_nowait)
        socket.on_any(lambda event, *args: heard_by_any.append(event))

    async with pair(io) as (client, socket):
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("forbidden", timeout=0.01))
        error = await within(errors.get())
        assert isinstance(error, PermissionError) and str(error) == "not you"
        assert handled == []
        assert heard_by_any == ["forbidden"]  # catch-all listeners hear it all the same
        assert await within(client.emit_with_ack("allowed", timeout=1)) == "ok"
        assert socket.connected


async def test_a_refusal_with_no_error_handler_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()

    def refuse(packet: list[Any]) -> None:
        raise PermissionError(f"not {packet[0]}")

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.use(refuse)

    with caplog.at_level(logging.WARNING, logger="aiosio"):
        async with pair(io) as (client, socket):
            for _ in range(3):
                with pytest.raises(AckTimeout):
                    await within(client.emit_with_ack("anything", timeout=0.01))
            assert socket.connected
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    refusal = f"packet middleware refused a packet of {socket.id}: not anything"
    assert refusals == [f"{refusal} (logged once per connection)"]
