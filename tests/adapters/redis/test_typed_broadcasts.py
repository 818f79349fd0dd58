"""Typed values in a cluster on the real Redis (127.0.0.1:6379), classic and streams
adapters: a pydantic model or a dataclass that ``io.emit`` sends on one server reaches a
client of the other server as JSON, written as plain data before the adapter publishes it
(so Node servers of the cluster can read it too); ``server_side_emit(..., response=T)``
checks and converts the other servers' answers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

import aiosio
from aiosio.adapters.codec import unpack
from aiosio.adapters.redis import redis_adapter, streams_adapter
from aiosio.typed import InvalidPayload
from tests.adapters.cluster_support import eventually_async


class Note(BaseModel):
    text: str
    stars: int = 0
    at: datetime.datetime


@dataclasses.dataclass
class Spot:
    x: int
    id: uuid.UUID


AT = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
SPOT_ID = uuid.UUID(int=7)


def classic(url: str, key: str) -> Any:
    return redis_adapter(url, key=key)


def streams(url: str, key: str) -> Any:
    return streams_adapter(url, stream_name=key, channel_prefix=key)


@asynccontextmanager
async def two_servers(
    redis_url: str, make: Callable[[str, str], Any], key: str
) -> AsyncIterator[tuple[aiosio.Server, aiosio.Server, int]]:
    sender = aiosio.Server(adapter=make(redis_url, key))
    receiver = aiosio.Server(adapter=make(redis_url, key))
    receiver.on("tell", lambda answer: answer)  # server_side_emit: answers what it is told
    await sender.start(port=0)
    try:
        port = await receiver.start(port=0)
        try:
            yield sender, receiver, port
        finally:
            await receiver.close()
    finally:
        await sender.close()


@pytest.mark.parametrize("make", [classic, streams], ids=["classic", "streams"])
async def test_a_model_crosses_the_cluster_as_json(
    redis_url: str, make: Callable[[str, str], Any]
) -> None:
    key = f"typed-{uuid.uuid4().hex[:12]}"
    raw = aioredis.from_url(redis_url)
    pubsub = raw.pubsub()
    await pubsub.psubscribe(f"{key}#*")
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    try:
        async with two_servers(redis_url, make, key) as (sender, _, port):
            client = aiosio.Client(f"http://127.0.0.1:{port}", transports=["websocket"])
            client.on("note", lambda *args: got.put_nowait(args))
            await client.connect()
            try:

                async def crossed() -> bool:  # sent again until the servers hear each other
                    sender.emit("note", Note(text="hi", stars=2, at=AT), Spot(3, SPOT_ID))
                    try:
                        await asyncio.wait_for(got.get(), 0.2)
                    except TimeoutError:
                        return False
                    return True

                await eventually_async(crossed, timeout=10)
                sender.emit("note", Note(text="last", at=AT), Spot(4, SPOT_ID))
                while (args := await asyncio.wait_for(got.get(), 5))[0]["text"] != "last":
                    pass
                answers = await sender.server_side_emit(
                    "tell", {"text": "fine", "stars": "5", "at": AT.isoformat()}, timeout=5,
                    response=Note,
                )  # fmt: skip
                with pytest.raises(InvalidPayload) as caught:
                    await sender.server_side_emit("tell", {"stars": "x"}, timeout=5, response=Note)
            finally:
                await client.disconnect()
        published = await _published(raw, pubsub, key, make)
    finally:
        await pubsub.aclose()
        await raw.aclose()
    stamp = "2026-01-02T03:04:05Z"
    assert args == (
        {"text": "last", "stars": 0, "at": stamp},
        {"x": 4, "id": str(SPOT_ID)},
    )
    # what the sender put on Redis is plain data: any server (Node too) can read it
    assert {"text": "last", "stars": 0, "at": stamp} in published
    assert answers == [Note(text="fine", stars=5, at=AT)]
    assert {e["loc"][-1] for e in caught.value.errors} == {"text", "stars", "at"}


async def _published(
    raw: aioredis.Redis, pubsub: Any, key: str, make: Callable[[str, str], Any]
) -> list[Any]:
    """The arguments of every ``note`` broadcast that went through Redis."""
    found: list[Any] = []
    if make is streams:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await raw.xrange(key)  # type: ignore[assignment]
        for _, fields in entries:
            data = fields.get(b"data", b"")
            if data.startswith(b"{"):
                packet = orjson.loads(data).get("packet") or {}
                if packet.get("data", [None])[0] == "note":
                    found.extend(packet["data"][1:])
        return found
    async with asyncio.timeout(10):  # until the last broadcast is read
        while not any(isinstance(a, dict) and a.get("text") == "last" for a in found):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None or message["data"].startswith(b"{"):
                continue  # a subscription's confirmation, a request (JSON)
            value = unpack(message["data"])
            if value[1]["data"][0] == "note":
                found.extend(value[1]["data"][1:])
    return found
