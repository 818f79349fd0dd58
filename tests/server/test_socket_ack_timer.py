"""aiosio.server.socket: a socket's pending acks live in one table
(aiosio.socketio.session.AckTable) with one timer, armed for the earliest deadline.

A real server and client connected in memory (aiosio.testing); tests wait on queues and
futures, never on sleeps.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout, Disconnected
from tests.support.waits import within


async def pair(served: aiosio.testing.InMemoryServer) -> tuple[aiosio.Client, aiosio.Socket]:
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    served.io.on("connection", sockets.put_nowait)
    client = await within(served.connect())
    client.on("echo", lambda value: value)
    client.on("silent", lambda *args, ack: None)  # takes the ack, never answers
    return client, await within(sockets.get())


async def test_acks_time_out_in_deadline_order_not_emit_order() -> None:
    async with aiosio.testing.serve(aiosio.Server()) as served:
        _, socket = await pair(served)
        order: asyncio.Queue[str] = asyncio.Queue()
        socket.timeout(0.3).emit("silent", callback=lambda error: order.put_nowait("long"))
        socket.timeout(0.02).emit("silent", callback=lambda error: order.put_nowait("short"))
        socket.timeout(0.1).emit("silent", callback=lambda error: order.put_nowait("middle"))
        assert [await within(order.get()) for _ in range(3)] == ["short", "middle", "long"]
        assert await within(socket.emit_with_ack("echo", "alive", timeout=1)) == "alive"


async def test_an_answered_ack_is_not_timed_out_later() -> None:
    async with aiosio.testing.serve(aiosio.Server()) as served:
        _, socket = await pair(served)
        calls: list[tuple[Any, ...]] = []
        answered: asyncio.Queue[None] = asyncio.Queue()

        def record(*args: Any) -> None:
            calls.append(args)
            answered.put_nowait(None)

        socket.timeout(0.05).emit("echo", 1, callback=record)
        await within(answered.get())
        with pytest.raises(AckTimeout):
            await within(socket.emit_with_ack("silent", timeout=0.1))
        assert calls == [(None, 1)]


async def test_a_timeout_then_new_acks_arm_the_timer_again() -> None:
    async with aiosio.testing.serve(aiosio.Server()) as served:
        _, socket = await pair(served)
        for _ in range(3):
            with pytest.raises(AckTimeout, match=r"^operation has timed out$"):
                await within(socket.emit_with_ack("silent", timeout=0.01))
        assert await within(socket.emit_with_ack("echo", 2, timeout=1)) == 2


async def test_a_callback_emitting_with_a_timeout_gets_its_own_deadline() -> None:
    async with aiosio.testing.serve(aiosio.Server()) as served:
        _, socket = await pair(served)
        done: asyncio.Queue[str] = asyncio.Queue()

        def first(error: BaseException | None) -> None:
            done.put_nowait("first")
            socket.timeout(0.01).emit("silent", callback=lambda error: done.put_nowait("second"))

        socket.timeout(0.01).emit("silent", callback=first)
        assert [await within(done.get()) for _ in range(2)] == ["first", "second"]


async def test_disconnection_fails_timed_acks() -> None:
    async with aiosio.testing.serve(aiosio.Server()) as served:
        client, socket = await pair(served)
        waiting = asyncio.ensure_future(socket.emit_with_ack("silent", timeout=30))
        assert await within(socket.emit_with_ack("echo", 3, timeout=1)) == 3
        await client.disconnect()
        with pytest.raises(Disconnected, match=r"^the socket disconnected$"):
            await within(waiting)
