"""RedisPresence on the real Redis: two aiosio servers (Redis pub/sub adapter) share
presence, a user with a tab on each is one member, revocation and to_user reach the other
server, and a server that stops beating without a goodbye loses its users within 2 x its
heartbeat, reported once as a diff."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

import aiosio
import aiosio.testing
import socketio
from aiosio.adapters.redis import redis_adapter
from aiosio.adapters.redis.presence import RedisPresence
from tests.adapters.cluster_support import Client, NodeServer, node_available
from tests.support.waits import Watch, within


def _server(redis_url: str, key: str, store: RedisPresence) -> aiosio.Server:
    io = aiosio.Server(
        adapter=redis_adapter(url=redis_url, key=key), presence={"interval": 60, "store": store}
    )
    io.use(lambda socket: setattr(socket, "user", socket.handshake.auth["user"]))
    io.on("connection", lambda socket: socket.join("room"))
    return io


async def test_two_servers_share_presence_users_and_revocation(redis_url: str, key: str) -> None:
    stores = [RedisPresence(redis_url, key=key, heartbeat=0.2) for _ in range(2)]
    one, two = (_server(redis_url, key, store) for store in stores)
    diffs: list[Any] = []
    watch = Watch()
    for io in (one, two):
        io.sockets.on("presence", lambda room, joined, left: diffs.append((joined, left)))
        io.sockets.on("presence", watch.poke)
    async with aiosio.testing.serve(one) as a, aiosio.testing.serve(two) as b:
        ann_a = await a.connect(auth={"user": "ann"}, retries=0)
        ann_b = await b.connect(auth={"user": "ann"}, retries=0)
        await b.connect(auth={"user": "bob"})
        for io in (one, two):
            assert io.sockets.presence is not None
            io.sockets.presence.flush()

        # One diff or two (whichever server writes first reports ann), ann in one only.
        def joined() -> list[str]:
            return sorted(user["user"] for found, _ in diffs for user in found)

        await watch.until(lambda: joined() == ["ann", "bob"])
        arrivals = len(diffs)
        members = await one.in_("room").presence()
        assert [(m["user"], m["sockets"]) for m in members] == [("ann", 2), ("bob", 1)]
        assert await one.in_("room").count_users() == 2
        assert await two.in_("room").count() == 3
        # A second tab on a server where ann is already: no diff, a new count in Redis.
        third = await a.connect(auth={"user": "ann"})
        presence = one.sockets.presence
        assert presence is not None and presence.table.count_sockets("room") == 2
        settings = one.presence_settings
        assert settings is not None and settings.store is not None
        await presence._apply(
            settings.store, presence.table.flush(), presence.table.take_recounts()
        )
        assert await two.in_("room").count() == 4
        await third.disconnect()
        hello = asyncio.get_running_loop().create_future()
        ann_b.on("hello", hello.set_result)
        one.to_user("ann").emit("hello", "from one")
        assert await within(hello) == "from one"
        assert len(await one.user_sockets("ann")) == 2
        gone = [asyncio.get_running_loop().create_future() for _ in range(2)]
        ann_a.on("disconnect", gone[0].set_result)
        ann_b.on("disconnect", gone[1].set_result)
        await one.revoke(user="ann", reason="password changed")
        await within(asyncio.gather(*gone))
        for io in (one, two):
            assert io.sockets.presence is not None
            io.sockets.presence.flush()
        await watch.until(lambda: len(diffs) > arrivals)
        assert diffs[arrivals:] == [([], ["ann"])]  # once, when her last tab anywhere closed
        assert joined() == ["ann", "bob"]


async def test_a_dead_server_loses_its_users_within_two_heartbeats(
    redis_url: str, key: str
) -> None:
    heartbeat = 0.2
    alive_store = RedisPresence(redis_url, key=key, heartbeat=heartbeat)
    dying_store = RedisPresence(redis_url, key=key, heartbeat=heartbeat)
    alive = _server(redis_url, key, alive_store)
    dying = _server(redis_url, key, dying_store)
    left = asyncio.Event()
    alive.sockets.on("presence", lambda room, joined, gone: left.set() if gone else None)
    applied: list[str] = []
    watch = Watch()
    for io in (alive, dying):
        io.sockets.on("presence", lambda room, joined, gone: applied.append(room))
        io.sockets.on("presence", watch.poke)
    async with aiosio.testing.serve(alive) as a, aiosio.testing.serve(dying) as b:
        await a.connect(auth={"user": "ann"})
        await b.connect(auth={"user": "zoe"})
        for io in (alive, dying):
            assert io.sockets.presence is not None
            io.sockets.presence.flush()
        await watch.until(lambda: len(applied) == 2)
        assert [m["user"] for m in await alive.in_("room").presence()] == ["ann", "zoe"]
        # The dying server stops beating without a goodbye, as a killed process would.
        assert dying_store._beat is not None
        dying_store._beat.cancel()
        start = asyncio.get_running_loop().time()
        await within(left.wait(), seconds=10 * heartbeat + 2)
        elapsed = asyncio.get_running_loop().time() - start
        assert elapsed <= 3 * heartbeat + 1.0  # 2 x heartbeat to expire, one beat to notice
        assert [m["user"] for m in await alive.in_("room").presence()] == ["ann"]


async def test_a_server_killed_with_sigkill_loses_its_users(redis_url: str, key: str) -> None:
    heartbeat = 0.3
    store = RedisPresence(redis_url, key=key, heartbeat=heartbeat)
    alive = _server(redis_url, key, store)
    left = asyncio.Event()
    alive.sockets.on("presence", lambda room, joined, gone: left.set() if "zoe" in gone else None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("presence_server.py")),
        redis_url, key, str(heartbeat), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    zoe = socketio.AsyncClient(reconnection=False)
    try:
        assert process.stdout is not None
        port = int(await within(process.stdout.readline(), seconds=15))
        async with aiosio.testing.serve(alive) as a:
            ann = await a.connect(auth={"user": "ann"})
            arrived = asyncio.Event()
            ann.on("presence", lambda diff: arrived.set() if diff["joined"] else None)
            assert alive.sockets.presence is not None
            alive.sockets.presence.flush()
            await zoe.connect(
                f"http://127.0.0.1:{port}", transports=["websocket"], auth={"user": "zoe"}
            )

            async def both() -> bool:
                found = await alive.in_("room").presence()
                return [m["user"] for m in found] == ["ann", "zoe"]

            await within(arrived.wait(), seconds=10)  # zoe's server pushed her arrival
            assert await both()
            process.kill()  # SIGKILL: no goodbye, its heartbeat key just expires
            await process.wait()
            start = asyncio.get_running_loop().time()
            await within(left.wait(), seconds=10)
            assert asyncio.get_running_loop().time() - start <= 3 * heartbeat + 1.0
            assert [m["user"] for m in await alive.in_("room").presence()] == ["ann"]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await zoe.disconnect()


@pytest.mark.skipif(not node_available(), reason="node and tests/interop/node_modules needed")
async def test_node_servers_of_a_mixed_cluster_ignore_the_new_messages(
    redis_url: str, key: str
) -> None:
    """A Node socket.io server with the official Redis adapter hears the user room, the
    control emits and the presence pushes, and goes on answering as before; its
    broadcasts to a room with a history are kept by the aiosio server."""
    store = RedisPresence(redis_url, key=key, heartbeat=1.0)
    io = aiosio.Server(
        adapter=redis_adapter(url=redis_url, key=key),
        presence={"interval": 0.05, "event": "presence", "store": store},
    )
    io.use(lambda socket: setattr(socket, "user", socket.handshake.auth.get("user")))
    io.on("connection", lambda socket: socket.join("room"))
    io.sockets.history("room", max_len=10)
    node = await NodeServer.start(redis_url, key)
    node_client = await Client.connect(node, "room")
    node_presence: list[Any] = []
    node_client.sio.on("presence", node_presence.append)
    try:
        async with aiosio.testing.serve(io) as server:
            ann = await server.connect(auth={"user": "ann"}, retries=0)
            news = asyncio.get_running_loop().create_future()
            ann.on("news", news.set_result)
            await node.call("emit", rooms=["room"], event="news", args=["from node"])
            assert await within(news, seconds=5) == "from node"
            assert io.sockets.histories.logs["room"].last(5, 0).events == [["news", "from node"]]
            assert [s.id for s in await io.user_sockets("ann")] == [ann.id]
            gone = asyncio.get_running_loop().create_future()
            ann.on("disconnect", gone.set_result)
            await io.revoke(user="ann", reason="revoked")
            await within(gone, seconds=5)
            # Node answers as before: a server-side emit with an ack, and a fetch.
            answers = await io.server_side_emit("hello", "x", timeout=5)
            assert answers == ["node:x"]
            assert [s["id"] for s in await node.call("fetch", rooms=["room"])] == [node_client.sid]
            assert node.process.returncode is None
            assert node.sse == []  # no control message reached a Node handler
    finally:
        await node_client.sio.disconnect()
        await node.close()
