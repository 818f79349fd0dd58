"""aiosio.adapters.redis.emitter: a process that is no server reaching a cluster's sockets.

One aiosio server with ``redis_adapter`` on the real Redis (a key of each test's own) and
clients connected to it in memory (aiosio.testing); the :class:`Emitter` publishes on that
Redis, and what the clients receive, which rooms their sockets are in and whether they are
still connected is what is checked. The Node interop of the emitter is in test_pubsub.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.adapters.redis.emitter import Emitter, EmitterOperator
from aiosio.adapters.redis.pubsub import redis_adapter
from tests.support.waits import within

pytestmark = pytest.mark.redis


class Member:
    """A client in memory, joined to ``rooms`` on the server, keeping ``news``."""

    def __init__(self, client: aiosio.Client, socket: aiosio.Socket) -> None:
        self.client = client
        self.socket = socket
        self.news: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.disconnected: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on("news", lambda *args: self.news.put_nowait(args))

        def gone(reason: Any = None, *rest: Any) -> None:
            if not self.disconnected.done():
                self.disconnected.set_result(str(reason))

        client.on("disconnect", gone)

    async def next_news(self) -> tuple[Any, ...]:
        return await within(self.news.get())

    async def synced(self) -> None:
        """Once this answers, every event sent to the client before it was handled."""
        assert await within(self.client.emit_with_ack("sync", timeout=2)) == "synced"


class Cluster:
    """One server on Redis, its clients, and what its namespace handlers heard."""

    def __init__(self, io: aiosio.Server, served: aiosio.testing.InMemoryServer) -> None:
        self.io = io
        self.served = served
        self.sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
        self.heard: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    async def member(self, *rooms: str, namespace: str = "/") -> Member:
        client = await within(
            self.served.connect(namespace, auth={"rooms": list(rooms)}, reconnection=False)
        )
        return Member(client, await within(self.sockets.get()))


@asynccontextmanager
async def cluster(key: str, redis_url: str, **options: Any) -> AsyncIterator[Cluster]:
    io = aiosio.Server(adapter=redis_adapter(redis_url, key=key, **options))

    def on_connection(socket: aiosio.Socket) -> None:
        socket.join(socket.handshake.auth.get("rooms") or [])
        socket.on("sync", lambda: "synced")
        made.sockets.put_nowait(socket)

    for name in ("/", "/admin"):
        io.of(name).on("connection", on_connection)
        io.of(name).on("reload", lambda *args, name=name: made.heard.put_nowait((name, *args)))
    async with aiosio.testing.serve(io) as served:
        made = Cluster(io, served)
        yield made


async def test_to_except_and_emit_reach_the_right_sockets(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        a = await c.member("red")
        b = await c.member("red", "blue")
        d = await c.member("blue")
        async with Emitter(redis_url, key=key) as emitter:
            emitter.to("red").emit("news", "to-red", {"n": 1}, b"\x00\x01")
            emitter.to("red").except_("blue").emit("news", "red-not-blue")
            emitter.in_(["red", "blue"]).emit("news", "red-or-blue")
            emitter.except_("red").emit("news", "not-red")
            emitter.emit("news", "everyone")
        assert await a.next_news() == ("to-red", {"n": 1}, b"\x00\x01")
        assert await a.next_news() == ("red-not-blue",)
        assert await a.next_news() == ("red-or-blue",)
        assert await a.next_news() == ("everyone",)
        assert await b.next_news() == ("to-red", {"n": 1}, b"\x00\x01")
        assert await b.next_news() == ("red-or-blue",)  # once, though in both rooms
        assert await b.next_news() == ("everyone",)
        assert await d.next_news() == ("red-or-blue",)
        assert await d.next_news() == ("not-red",)
        assert await d.next_news() == ("everyone",)
        for member in (a, b, d):
            await member.synced()
            assert member.news.empty()


async def test_a_sockets_own_id_is_a_room(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        a = await c.member()
        b = await c.member()
        async with Emitter(redis_url, key=key) as emitter:
            emitter.to(a.socket.id).emit("news", "just-a")
            emitter.except_(a.socket.id).emit("news", "all-but-a")
        assert await a.next_news() == ("just-a",)
        assert await b.next_news() == ("all-but-a",)
        await a.synced()
        await b.synced()
        assert a.news.empty() and b.news.empty()


async def test_of_reaches_another_namespace_only(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        main = await c.member("room")
        admin = await c.member("room", namespace="/admin")
        async with Emitter(redis_url, key=key) as emitter:
            admin_emitter = emitter.of("admin")  # the leading slash is added
            assert admin_emitter.namespace == "/admin"
            admin_emitter.to("room").emit("news", "admins")
            emitter.to("room").emit("news", "main")
        assert await admin.next_news() == ("admins",)
        assert await main.next_news() == ("main",)
        await admin.synced()
        await main.synced()
        assert admin.news.empty() and main.news.empty()


async def test_emits_arrive_in_the_order_they_were_queued(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        a = await c.member("room")
        async with Emitter(redis_url, key=key) as emitter:
            for n in range(300):  # more than one pipeline batch
                emitter.to("room").emit("news", n)
        assert [(await a.next_news())[0] for _ in range(300)] == list(range(300))


async def test_server_side_emit_reaches_the_namespace_handlers(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        async with Emitter(redis_url, key=key) as emitter:
            emitter.server_side_emit("reload", "config", {"v": 2})
            emitter.of("/admin").server_side_emit("reload", "admin")
        heard = [await within(c.heard.get()), await within(c.heard.get())]
        assert sorted(heard, key=repr) == [("/", "config", {"v": 2}), ("/admin", "admin")]


async def test_sockets_join_and_leave(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        a = await c.member("red")
        b = await c.member("blue")
        async with Emitter(redis_url, key=key) as emitter:
            emitter.in_("red").sockets_join(["vip", "gold"])
            emitter.to("vip").emit("news", "vip")  # published after the join: same order
        assert await a.next_news() == ("vip",)
        assert {"red", "vip", "gold"} <= a.socket.rooms
        assert not {"vip", "gold"} & b.socket.rooms
        async with Emitter(redis_url, key=key) as emitter:
            emitter.sockets_leave("vip")  # everyone
            emitter.sockets_join("all")
            emitter.to("vip").emit("news", "nobody")
            emitter.to("all").emit("news", "all")
        assert await a.next_news() == ("all",)
        assert await b.next_news() == ("all",)
        assert "vip" not in a.socket.rooms and "gold" in a.socket.rooms
        assert "all" in b.socket.rooms


async def test_disconnect_sockets(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        a = await c.member("red")
        b = await c.member("blue")
        async with Emitter(redis_url, key=key) as emitter:
            emitter.in_("red").disconnect_sockets()
        assert await within(a.disconnected) == "io server disconnect"
        await b.synced()
        assert b.client.connected and not a.client.connected
        async with Emitter(redis_url, key=key) as emitter:
            emitter.disconnect_sockets(close=True)
        await within(b.disconnected)
        assert not b.client.connected


async def test_sharded_emitter_reaches_a_sharded_cluster(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url, sharded=True) as c:
        a = await c.member("red")
        b = await c.member("blue")
        async with Emitter(redis_url, key=key, sharded=True) as emitter:
            emitter.to("red").emit("news", "red")  # the room's own channel
            emitter.to("red", "blue").emit("news", "both")  # the namespace's channel
            emitter.server_side_emit("reload", "sharded")
        assert await a.next_news() == ("red",)
        assert await a.next_news() == ("both",)
        assert await b.next_news() == ("both",)
        assert await within(c.heard.get()) == ("/", "sharded")


async def test_an_emitter_on_another_key_reaches_nobody(key: str, redis_url: str) -> None:
    async with cluster(key, redis_url) as c:
        a = await c.member("room")
        async with Emitter(redis_url, key=key + "-other") as emitter:
            emitter.to("room").emit("news", "elsewhere")
        async with Emitter(redis_url, key=key) as emitter:
            emitter.to("room").emit("news", "here")
        assert await a.next_news() == ("here",)  # published after the other one
        await a.synced()
        assert a.news.empty()


def test_operators_are_immutable_and_accumulate_rooms() -> None:
    emitter = Emitter("redis://127.0.0.1:1", key="k")  # nothing is sent: no connection
    base = emitter.to("a")
    wider = base.to("b", ["c"]).except_("x").except_(["y"])
    assert isinstance(wider, EmitterOperator)
    assert base.options.rooms == frozenset({"a"})
    assert wider.options.rooms == frozenset({"a", "b", "c"})
    assert wider.options.except_ == frozenset({"x", "y"})
    flagged = wider.volatile.compress(False)
    assert flagged.options.flags.volatile and flagged.options.flags.compress is False
    assert not wider.options.flags.volatile


@pytest.mark.parametrize("event", ["connect", "disconnect", "connect_error", "newListener"])
async def test_reserved_event_names_are_refused(event: str) -> None:
    emitter = Emitter("redis://127.0.0.1:1", key="k")
    try:
        with pytest.raises(ValueError, match="reserved"):
            emitter.emit(event)
        with pytest.raises(ValueError, match="reserved"):
            emitter.to("room").emit(event)
    finally:
        await emitter.close()
