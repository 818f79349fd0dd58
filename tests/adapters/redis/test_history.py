"""RedisHistory on the real Redis: what one server broadcasts to a room with a history is
kept in a capped list, written once for the cluster by the server it starts on, and a
server that starts later (or again) loads it and replays it to a rewinding client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiosio
import aiosio.testing
from aiosio.adapters.redis import connect, redis_adapter
from aiosio.adapters.redis.history import RedisHistory
from tests.support.waits import Watch


def _server(redis_url: str, key: str, store: RedisHistory, cluster: bool = True) -> aiosio.Server:
    # The store works beside any adapter: the in-memory one when the test needs no cluster.
    io = aiosio.Server(adapter=redis_adapter(url=redis_url, key=key) if cluster else None)
    io.sockets.history("room", max_len=3, ttl=60, store=store)
    io.on(
        "connection",
        lambda socket: socket.on("rewind", lambda: bool(socket.join("room", rewind=10))),
    )
    return io


async def test_a_server_started_later_replays_what_was_said_before(
    redis_url: str, key: str
) -> None:
    first_store, second_store = RedisHistory(redis_url, key=key), RedisHistory(redis_url, key=key)
    first = _server(redis_url, key, first_store, cluster=False)
    async with aiosio.testing.serve(first):
        for n in range(5):
            first.to("room").emit("msg", n)
        first.to("room").emit("bin", b"\x00")  # binary: kept in memory only
        first.to("room").volatile.emit("msg", 99)  # volatile: not kept at all
    # closed: what was queued is written; the list is capped at max_len
    redis = connect(redis_url)
    try:
        raw = await redis.lrange(first_store.key("/", "room"), 0, -1)
        assert [json.loads(item)["d"] for item in raw] == [["msg", 2], ["msg", 3], ["msg", 4]]
        assert 0 < await redis.pttl(first_store.key("/", "room")) <= 60_000
    finally:
        await redis.aclose()
    second = _server(redis_url, key, second_store, cluster=False)
    async with aiosio.testing.serve(second) as server:
        client = await server.connect()
        seen: list[int] = []
        watch = Watch()
        client.on("msg", seen.append)
        client.on("msg", watch.poke)
        await client.emit_with_ack("rewind", timeout=5)
        await watch.until(lambda: len(seen) == 3)
        assert seen == [2, 3, 4]
        second.to("room").emit("msg", 5)  # live, and written once more to the list
        await watch.until(lambda: len(seen) == 4)
    redis = connect(redis_url)
    try:
        raw = await redis.lrange(second_store.key("/", "room"), 0, -1)
        assert [json.loads(item)["d"][1] for item in raw] == [3, 4, 5]
    finally:
        await redis.aclose()


async def test_each_broadcast_is_written_once_for_the_cluster(redis_url: str, key: str) -> None:
    stores = [RedisHistory(redis_url, key=key) for _ in range(2)]
    one, two = (_server(redis_url, key, store) for store in stores)
    async with aiosio.testing.serve(one), aiosio.testing.serve(two):
        heard = asyncio.Event()

        def record(packet: Any, options: Any) -> None:
            two.sockets.histories.record(packet, options)
            heard.set()

        two.sockets.adapter.recorder = record
        one.to("room").emit("msg", "once")
        await asyncio.wait_for(heard.wait(), 5)  # the other server delivered (and kept) it
        assert two.sockets.histories.logs["room"].last(5, 0).events == [["msg", "once"]]
    redis = connect(redis_url)
    try:
        assert await redis.llen(stores[0].key("/", "room")) == 1
    finally:
        await redis.aclose()
