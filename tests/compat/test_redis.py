"""AsyncRedisManager on the native Redis adapter (the Node adapter's format), with a
real Redis: two compat servers share rooms and emits, and a write_only manager emits
from outside them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio import compat as socketio

pytestmark = pytest.mark.redis


async def test_two_servers_and_an_emitter_share_a_cluster(redis_url: str, key: str) -> None:
    first = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(redis_url, channel=key))
    second = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(redis_url, channel=key))

    @first.event
    async def shout(sid: str, text: str) -> str:
        await first.emit("news", text, room="everyone")
        return "sent"

    @second.event
    async def join(sid: str) -> str:
        await second.enter_room(sid, "everyone")
        return "joined"

    ports = [await first.start("127.0.0.1", 0), await second.start("127.0.0.1", 0)]
    emitter = socketio.AsyncRedisManager(redis_url, channel=key, write_only=True)
    try:
        listener = await aiosio.connect(f"http://127.0.0.1:{ports[1]}", transports=["websocket"])
        speaker = await aiosio.connect(f"http://127.0.0.1:{ports[0]}", transports=["websocket"])
        news: asyncio.Queue[Any] = asyncio.Queue()
        listener.on("news", news.put_nowait)
        assert await listener.emit_with_ack("join", timeout=5) == "joined"
        assert await speaker.emit_with_ack("shout", "across", timeout=5) == "sent"
        assert await asyncio.wait_for(news.get(), 5) == "across"
        await emitter.emit("news", {"from": "emitter"}, room="everyone")
        assert await asyncio.wait_for(news.get(), 5) == {"from": "emitter"}
        await emitter.emit("news", "skipped", to="everyone", skip_sid=listener.id)
        await emitter.emit("news", "to all", namespace="/")
        assert await asyncio.wait_for(news.get(), 5) == "to all"
        await listener.disconnect()
        await speaker.disconnect()
    finally:
        await emitter.close()
        await first.shutdown()
        await second.shutdown()


def test_what_the_manager_refuses() -> None:
    with pytest.raises(ValueError, match="redis_options"):
        socketio.AsyncRedisManager(redis_options={"ssl": True})
    with pytest.raises(ValueError, match="write_only"):
        socketio.AsyncServer(client_manager=socketio.AsyncRedisManager(write_only=True)).io  # noqa: B018
    assert socketio.AsyncManager().adapter_factory() is None


async def test_an_emitter_cannot_take_acks() -> None:
    with pytest.raises(ValueError, match="acknowledgements"):
        await socketio.AsyncRedisManager(write_only=True).emit("x", callback=print)
