"""aiosio.client.outbox: the client's pending acks live in one table
(aiosio.socketio.session.AckTable) with one timer, armed for the earliest deadline.

A real server and client connected in memory (aiosio.testing); tests wait on futures and
queues, never on sleeps.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout, Disconnected
from tests.support.waits import within


def server() -> aiosio.Server:
    io = aiosio.Server()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda value: value)
        socket.on("silent", lambda *args, ack: None)  # takes the ack, never answers

    return io


async def test_acks_time_out_in_deadline_order_not_emit_order() -> None:
    async with aiosio.testing.serve(server()) as served:
        client = await within(served.connect())
        order: asyncio.Queue[str] = asyncio.Queue()
        client.timeout(0.3).emit("silent", callback=lambda error: order.put_nowait("long"))
        client.timeout(0.02).emit("silent", callback=lambda error: order.put_nowait("short"))
        client.timeout(0.1).emit("silent", callback=lambda error: order.put_nowait("middle"))
        assert [await within(order.get()) for _ in range(3)] == ["short", "middle", "long"]
        assert await within(client.emit_with_ack("echo", "alive", timeout=1)) == "alive"


async def test_an_answered_ack_is_not_timed_out_later() -> None:
    async with aiosio.testing.serve(server()) as served:
        client = await within(served.connect())
        calls: list[tuple[Any, ...]] = []
        answered: asyncio.Queue[None] = asyncio.Queue()

        def record(*args: Any) -> None:
            calls.append(args)
            answered.put_nowait(None)

        client.timeout(0.05).emit("echo", 1, callback=record)
        await within(answered.get())
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("silent", timeout=0.1))
        assert calls == [(None, 1)]  # answered once; its deadline passed without a call


async def test_a_timeout_then_new_acks_arm_the_timer_again() -> None:
    async with aiosio.testing.serve(server()) as served:
        client = await within(served.connect())
        for _ in range(3):
            with pytest.raises(AckTimeout, match=r"^operation has timed out$"):
                await within(client.emit_with_ack("silent", timeout=0.01))
        assert await within(client.emit_with_ack("echo", 2, timeout=1)) == 2


async def test_disconnection_fails_timed_acks_and_drops_plain_callbacks() -> None:
    async with aiosio.testing.serve(server()) as served:
        client = await within(served.connect())
        waiting = asyncio.ensure_future(client.emit_with_ack("silent", timeout=30))
        plain: list[Any] = []
        client.emit("silent", callback=lambda *args: plain.append(args))
        assert await within(client.emit_with_ack("echo", 3, timeout=1)) == 3
        await client.disconnect()
        with pytest.raises(Disconnected, match=r"^socket has been disconnected$"):
            await within(waiting)
        assert plain == []  # not error-first: dropped silently
