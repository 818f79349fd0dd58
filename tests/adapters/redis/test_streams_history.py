"""Room history and presence with the Redis streams adapter, two aiosio servers on the
real Redis: a client rewinds on one server while both servers broadcast, and gets every
event once, in the stream's order, with no gap (checked by each sender's sequence
numbers); replayed events carry their stream offsets; a user with a tab on each server is
one member."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosio
import aiosio.testing
from aiosio.adapters.redis import streams_adapter
from aiosio.adapters.redis.presence import RedisPresence
from tests.support.waits import Watch


def _server(redis_url: str, key: str) -> aiosio.Server:
    io = aiosio.Server(
        adapter=streams_adapter(redis_url, stream_name=key, channel_prefix=key, block_time=0.5),
        connection_state_recovery=True,
        presence={"interval": 60, "store": RedisPresence(redis_url, key=key, heartbeat=1.0)},
    )
    io.sockets.history("room", max_len=10_000)
    io.use(lambda socket: setattr(socket, "user", socket.handshake.auth.get("user")))
    return io


async def test_rewind_during_concurrent_broadcasts_from_two_servers(
    redis_url: str, key: str
) -> None:
    one, two = _server(redis_url, key), _server(redis_url, key)
    replays: list[Any] = []
    two.on(
        "connection",
        lambda socket: socket.on(
            "rewind", lambda: bool(replays.append(socket.join("room", rewind=10_000)))
        ),
    )
    one.on("connection", lambda socket: socket.join("room"))
    stop = asyncio.Event()
    sent = {"one": 0, "two": 0}
    watch = Watch()

    async def broadcast(io: aiosio.Server, name: str) -> None:
        while not stop.is_set():
            io.to("room").emit("tick", name, sent[name])
            sent[name] += 1
            watch.poke()
            await asyncio.sleep(0.002)

    async with aiosio.testing.serve(one) as a, aiosio.testing.serve(two) as b:
        ann_one = await a.connect(auth={"user": "ann"})
        tasks = [
            asyncio.create_task(broadcast(one, "one")),
            asyncio.create_task(broadcast(two, "two")),
        ]
        late = await b.connect(auth={"user": "ann"})
        seen: list[tuple[str, int]] = []
        late.on("tick", lambda name, n, *offset: seen.append((name, n)))
        late.on("tick", watch.poke)
        await watch.until(lambda: sum(sent.values()) > 50)
        await late.emit_with_ack("rewind", timeout=5)  # mid-stream
        await watch.until(lambda: len(seen) > 100)
        stop.set()
        await asyncio.gather(*tasks)
        total = sum(sent.values())
        await watch.until(lambda: len(seen) == total, seconds=10)
        for name in ("one", "two"):
            mine = [n for who, n in seen if who == name]
            assert mine == list(range(sent[name])), f"a gap or a duplicate from {name}"
        kept = two.sockets.histories.logs["room"].last(10_000, 0)
        assert [tuple(event[1:3]) for event in kept.events] == seen  # the stream's order
        assert all(isinstance(event[-1], str) and "-" in event[-1] for event in kept.events)
        assert not replays[0].trimmed
        # Presence: ann has a tab on each server, one member with two sockets.
        for io in (one, two):
            presence, settings = io.sockets.presence, io.presence_settings
            assert presence is not None and settings is not None and settings.store is not None
            await presence._apply(settings.store, presence.table.flush())  # the flush, awaited
        got = await two.in_("room").presence()
        assert got == [{"user": "ann", "sockets": 2, "info": None}]
        assert ann_one.connected
