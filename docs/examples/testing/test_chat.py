"""Testing the tutorial's chat with aiosio.testing and pytest: no port, no sleep."""

import asyncio
from typing import Any

import pytest
from chat.server import io

import aiosio.testing


@pytest.mark.asyncio
async def test_a_message_reaches_the_room_and_is_acknowledged() -> None:
    async with aiosio.testing.serve(io) as server:
        alice = await server.connect(auth={"name": "alice"})
        bob = await server.connect(auth={"name": "bob"})
        heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        bob.on("chat", heard.put_nowait)

        assert await bob.emit_with_ack("join", "python", timeout=1) == ["lobby", "python"]
        assert await alice.emit_with_ack("chat", "python", "hi", timeout=1) == "delivered"
        assert await heard.get() == {"from": "alice", "room": "python", "text": "hi"}


@pytest.mark.asyncio
async def test_a_dropped_client_reconnects() -> None:
    async with aiosio.testing.serve(io) as server:
        carol = await server.connect(auth={"name": "carol"})
        back: asyncio.Event = asyncio.Event()
        carol.on("connect", back.set)
        aiosio.testing.drop(carol)  # as a network failure would
        await asyncio.wait_for(back.wait(), timeout=5)
        assert await carol.emit_with_ack("join", "lobby", timeout=1) == ["lobby"]
