"""The Redis streams adapter with a real Redis: connection state recovery across servers,
and one cluster with the official Node server on ``@socket.io/redis-streams-adapter``.

The client is the official socket.io-client; it cuts its transport (no clean disconnect)
and comes back to another server of the cluster. Every test has a stream and channel
prefix of its own.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

import aiosio
from aiosio.adapters.base import Session
from tests.adapters.cluster_support import eventually
from tests.adapters.streams_support import (
    OFFSET,
    NodeStreamsServer,
    OfficialClient,
    PyStreamsServer,
    node_ready,
)

pytestmark = pytest.mark.redis


class Harness:
    """Starts servers and clients on this test's stream, and closes them all."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        token = uuid.uuid4().hex[:10]
        self.stream = f"s-{token}"
        self.prefix = f"p-{token}"
        self.redis = aioredis.Redis.from_url(redis_url)
        self._closing: list[Any] = []

    async def py(self, name: str, **options: Any) -> PyStreamsServer:
        server = await PyStreamsServer.start(
            self.redis_url, self.stream, self.prefix, name, **options
        )
        self._closing.append(server)
        return server

    async def node(self, *, window: float = 30.0) -> NodeStreamsServer:
        if shutil.which("node") is None or not node_ready():
            pytest.skip("node or @socket.io/redis-streams-adapter is missing")
        server = await NodeStreamsServer.start(self.redis_url, self.stream, self.prefix, window)
        self._closing.append(server)
        return server

    async def client(
        self, url: str, room: str = "r", delay_ms: int = 100, transports: str = "websocket"
    ) -> OfficialClient:
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        client = await OfficialClient.connect(url, room, delay_ms, transports)
        self._closing.insert(0, client)
        return client

    async def persisted(self, pid: str) -> None:
        """Wait until the session ``pid`` is in Redis."""
        for _ in range(250):
            if await self.redis.exists(f"sio:session:{pid}"):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"session {pid} was not persisted")

    async def stream_length(self, length: int) -> None:
        """Wait until the stream holds ``length`` entries (broadcasts reached Redis)."""
        for _ in range(250):
            if await self.redis.xlen(self.stream) >= length:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the stream never reached {length} entries")

    async def close(self) -> None:
        for item in self._closing:
            await item.close()
        await self.redis.delete(self.stream)
        await self.redis.aclose()


@pytest.fixture
async def make(redis_url: str) -> AsyncIterator[Harness]:
    harness = Harness(redis_url)
    yield harness
    await harness.close()


def ticks(client: OfficialClient) -> list[Any]:
    return client.values("tick")


def assert_offsets_increase(client: OfficialClient) -> None:
    offsets = [args[-1] for args in client.events("tick")]
    assert all(OFFSET.fullmatch(offset) for offset in offsets), offsets
    numbers = [tuple(map(int, offset.split("-"))) for offset in offsets]
    assert numbers == sorted(set(numbers)), offsets


# -- recovery across aiosio servers --------------------------------------------------------


@pytest.mark.parametrize("transports", ["websocket", "polling", "polling,websocket"])
async def test_a_client_is_recovered_by_another_server(make: Harness, transports: str) -> None:
    a, b = await make.py("a"), await make.py("b")
    assert a.io.healthy and b.io.healthy
    client = await make.client(a.url, transports=transports)
    first = client.seen("connect")[0]
    for n in range(5):
        b.io.to("r").emit("tick", n)  # reaches the client on a through the stream
    await eventually(lambda: len(ticks(client)) == 5)

    await client.cut(to=b.url)
    await make.persisted(first["pid"])
    for n in range(5, 15):
        b.io.to("r").emit("tick", n)
    await make.stream_length(15)
    for n in range(15, 20):
        a.io.to("r").emit("tick", n)
    await make.stream_length(20)

    second = await client.reconnect()
    assert second == {"id": first["id"], "recovered": True, "pid": first["pid"]}
    await eventually(lambda: len(ticks(client)) >= 20)
    b.io.to("r").emit("tick", 20)  # live again, once
    await eventually(lambda: len(ticks(client)) >= 21)
    await asyncio.sleep(0.1)
    assert ticks(client) == list(range(21))
    assert_offsets_increase(client)
    restored = b.connections[-1]
    assert restored == {
        "id": first["id"],
        "recovered": True,
        "rooms": sorted([first["id"], "r"]),
        "data": {"server": "a"},
    }


async def test_a_client_that_got_no_event_yet_is_recovered(make: Harness) -> None:
    # The reference cannot: the client has no offset; aiosio keeps where it joined.
    a, b = await make.py("a"), await make.py("b")
    client = await make.client(a.url)
    first = client.seen("connect")[0]
    await client.cut(to=b.url)
    await make.persisted(first["pid"])
    for n in range(3):
        b.io.to("r").emit("tick", n)
    await make.stream_length(3)
    second = await client.reconnect()
    assert second["recovered"] is True and second["id"] == first["id"]
    await eventually(lambda: len(ticks(client)) >= 3)
    assert ticks(client) == [0, 1, 2]


async def test_automatic_reconnection_to_another_server(make: Harness) -> None:
    a, b = await make.py("a"), await make.py("b")
    client = await make.client(a.url, delay_ms=600)
    first = client.seen("connect")[0]
    a.io.emit("tick", 0)
    await eventually(lambda: len(ticks(client)) == 1)
    await client.cut(to=b.url, reconnect=True)  # back by itself 600 ms later
    for n in range(1, 6):
        b.io.emit("tick", n)
    connects = await client.wait_for("connect", 2)
    assert connects[1]["recovered"] is True and connects[1]["id"] == first["id"]
    await eventually(lambda: len(ticks(client)) >= 6)
    await asyncio.sleep(0.1)
    assert ticks(client) == list(range(6))


async def test_only_what_was_meant_for_the_socket_is_replayed(make: Harness) -> None:
    a, b = await make.py("a"), await make.py("b")
    client = await make.client(a.url)
    first = client.seen("connect")[0]
    sid = first["id"]
    a.io.emit("tick", 0)
    await eventually(lambda: len(ticks(client)) == 1)
    await client.cut(to=b.url)
    await make.persisted(first["pid"])
    b.io.to("other").emit("tick", 100)  # another room
    b.io.to("r").volatile.emit("tick", 101)  # volatile: no offset, not replayed
    b.io.except_("r").emit("tick", 102)  # its room is excluded
    b.io.to("r").except_(sid).emit("tick", 103)  # the socket itself is excluded
    b.io.local.emit("tick", 104)  # local: never in the stream
    b.io.to("r").emit("tick", 1)
    b.io.to(sid).emit("tick", 2)  # to the socket's own id
    b.io.emit("tick", 3, b"\x00\x01")  # binary is stored as msgpack
    await make.stream_length(8)
    second = await client.reconnect()
    assert second["recovered"] is True
    await eventually(lambda: len(ticks(client)) >= 4)
    await asyncio.sleep(0.1)
    assert ticks(client) == [0, 1, 2, 3]
    assert client.events("tick")[-1][1] == {"$bytes": [0, 1]}


async def test_a_server_shutting_down_leaves_its_sessions_to_the_others(make: Harness) -> None:
    # A rolling restart: close() persists every session before its adapter stops.
    a, b = await make.py("a"), await make.py("b")
    client = await make.client(a.url)
    first = client.seen("connect")[0]
    a.io.emit("tick", 0)
    await eventually(lambda: len(ticks(client)) == 1)
    await client.call("point", to=b.url)
    await a.close()
    b.io.emit("tick", 1)  # live or replayed: once either way
    connects = await client.wait_for("connect", 2)
    assert connects[1]["recovered"] is True and connects[1]["id"] == first["id"]
    await eventually(lambda: len(ticks(client)) >= 2)
    await asyncio.sleep(0.1)
    assert ticks(client) == [0, 1]
    assert client.seen("disconnect") == ["transport close"]


async def test_our_python_client_is_recovered_through_redis(make: Harness) -> None:
    a, b = await make.py("a"), await make.py("b")
    client = aiosio.Client(a.url, transports=["websocket"], auth={"room": "r"}, force_new=True)
    seen: list[tuple[Any, ...]] = []
    client.on("tick", lambda *args: seen.append(args))
    await client.connect()
    first_id, (pid,) = client.id, a.pids
    assert pid is not None
    b.io.to("r").emit("tick", 0)
    await eventually(lambda: len(seen) == 1)
    assert OFFSET.fullmatch(seen[0][1])

    client.io.reconnection = False  # reconnect by hand, once the cluster has news for us
    engine = client.io.engine
    assert engine is not None
    engine.abort()  # the connection drops, as a network failure would
    client.io.on_close("transport close", None)
    await make.persisted(pid)
    for n in (1, 2):
        b.io.to("r").emit("tick", n)
    await make.stream_length(3)
    await client.connect()  # back to a, which restores the session from Redis
    assert client.recovered and client.id == first_id
    await eventually(lambda: len(seen) >= 3)
    assert [args[0] for args in seen] == [0, 1, 2]
    await client.disconnect()


async def test_after_the_window_the_session_is_fresh(make: Harness) -> None:
    a, b = await make.py("a", window=0.2), await make.py("b", window=0.2)
    client = await make.client(a.url)
    first = client.seen("connect")[0]
    a.io.emit("tick", 0)
    await eventually(lambda: len(ticks(client)) == 1)
    await client.cut(to=b.url)
    await make.persisted(first["pid"])
    await asyncio.sleep(0.5)  # the key expires in Redis (PX)
    second = await client.reconnect()
    assert second["recovered"] is False
    assert second["id"] != first["id"]


async def test_a_restore_is_completed_when_the_socket_joins(make: Harness) -> None:
    # Between reading the stream and the socket joining, the reader may deliver more:
    # missed_packets() adds those, and drops what the reader has not reached yet.
    a, b = await make.py("a"), await make.py("b")
    adapter = b.io.of("/").adapter
    client = await make.client(a.url)
    first = client.seen("connect")[0]
    a.io.to("r").emit("tick", 0)
    await eventually(lambda: len(ticks(client)) == 1)
    offset = client.events("tick")[0][-1]
    await client.cut()
    await make.persisted(first["pid"])
    session = await adapter.restore_session(first["pid"], offset)
    assert session is not None and session.missed == []
    assert sorted(session.rooms) == sorted([first["id"], "r"])
    a.io.to("r").emit("tick", 1)
    a.io.to("other").emit("tick", 2)
    await make.stream_length(3)
    await eventually(lambda: adapter.recovery_offset() != session.offset)
    await eventually(lambda: len(adapter.missed_packets(session)) == 1)
    assert [packet[:2] for packet in adapter.missed_packets(session)] == [["tick", 1]]
    assert await adapter.restore_session(first["pid"], offset) is None  # taken once

    ahead = Session(
        first["id"],
        "pid",
        [first["id"], "r"],
        offset=adapter.recovery_offset(),
        missed=[["tick", 9, "99999999999999-0"]],
    )
    assert adapter.missed_packets(ahead) == []  # the reader will deliver it live


async def test_what_is_sent_while_the_middlewares_run_is_replayed(make: Harness) -> None:
    a, b = await make.py("a"), await make.py("b", skip_middlewares=False)
    entered, gate = asyncio.Event(), asyncio.Event()

    @b.io.use
    async def slow(socket: aiosio.Socket) -> None:
        if socket.recovered:
            entered.set()
            await gate.wait()

    client = await make.client(a.url)
    first = client.seen("connect")[0]
    a.io.to("r").emit("tick", 0)
    await eventually(lambda: len(ticks(client)) == 1)
    await client.cut(to=b.url)
    await make.persisted(first["pid"])
    await client.call("reconnect")
    await asyncio.wait_for(entered.wait(), 5)  # restored from Redis, not yet connected
    a.io.to("r").emit("tick", 1)
    await make.stream_length(2)
    last = (await make.redis.xrevrange(make.stream, "+", "-", count=1))[0][0].decode()
    await eventually(lambda: b.io.of("/").adapter.recovery_offset() == last)
    gate.set()  # b's reader delivered tick 1 before the socket joined: it is replayed
    connects = await client.wait_for("connect", 2)
    assert connects[1]["recovered"] is True
    await eventually(lambda: len(ticks(client)) >= 2)
    await asyncio.sleep(0.1)
    assert ticks(client) == [0, 1]


async def test_bad_offsets_and_unknown_sessions_are_not_restored(make: Harness) -> None:
    a = await make.py("a")
    adapter = a.io.of("/").adapter
    assert await adapter.restore_session("nobody", "1-0") is None
    assert await adapter.restore_session("nobody", "not an offset") is None
    assert await adapter.restore_session("nobody", None) is None


# -- one cluster with the official Node server ------------------------------------------


async def test_broadcasts_cross_python_and_node(make: Harness) -> None:
    py, node = await make.py("a"), await make.node()
    on_py, on_node = await make.client(py.url), await make.client(node.url)
    py.io.to("r").emit("news", "from-py", b"\x07")
    # Node delivers its own broadcast when XADD answers, maybe before an entry its reader
    # has yet to read: emitting only once the first one arrived keeps the order the same.
    for client in (on_py, on_node):
        await eventually(lambda client=client: len(client.events("news")) == 1)
    await node.call("emit", rooms=["r"], event="news", args=["from-node", {"$bytes": [8]}])
    for client in (on_py, on_node):
        await eventually(lambda client=client: len(client.events("news")) == 2)
    assert on_py.events("news") == on_node.events("news")  # same offsets everywhere
    names = sorted(args[0] for args in on_py.events("news"))
    assert names == ["from-node", "from-py"]
    assert {args[1]["$bytes"][0] for args in on_py.events("news")} == {7, 8}
    assert all(OFFSET.fullmatch(args[-1]) for args in on_py.events("news"))


async def test_a_session_persisted_by_node_is_restored_by_python(make: Harness) -> None:
    node, py = await make.node(), await make.py("a")
    client = await make.client(node.url)
    first = client.seen("connect")[0]
    for n in range(5):
        await node.call("emit", rooms=["r"], event="tick", args=[n])
    await eventually(lambda: len(ticks(client)) == 5)
    await client.cut(to=py.url)
    await make.persisted(first["pid"])
    for n in range(5, 10):
        await node.call("emit", rooms=["r"], event="tick", args=[n])
    await make.stream_length(10)
    for n in range(10, 15):
        py.io.to("r").emit("tick", n)
    await make.stream_length(15)
    second = await client.reconnect()
    assert second == {"id": first["id"], "recovered": True, "pid": first["pid"]}
    await eventually(lambda: len(ticks(client)) >= 15)
    await asyncio.sleep(0.1)
    assert ticks(client) == list(range(15))
    assert_offsets_increase(client)
    assert py.connections[-1] == {
        "id": first["id"],
        "recovered": True,
        "rooms": sorted([first["id"], "r"]),
        "data": {"server": "node"},
    }


async def test_a_session_persisted_by_python_is_restored_by_node(make: Harness) -> None:
    py, node = await make.py("a"), await make.node()
    client = await make.client(py.url)
    first = client.seen("connect")[0]
    for n in range(5):
        py.io.to("r").emit("tick", n)
    await eventually(lambda: len(ticks(client)) == 5)
    await client.cut(to=node.url)
    await make.persisted(first["pid"])
    for n in range(5, 10):
        py.io.to("r").emit("tick", n)
    await make.stream_length(10)
    for n in range(10, 15):
        await node.call("emit", rooms=["r"], event="tick", args=[n])
    await make.stream_length(15)
    second = await client.reconnect()
    assert second == {"id": first["id"], "recovered": True, "pid": first["pid"]}
    await eventually(lambda: len(ticks(client)) >= 15)
    await asyncio.sleep(0.1)
    assert ticks(client) == list(range(15))
    (connection,) = [c for c in node.seen("connection") if c["recovered"]]
    assert connection == {
        "id": first["id"],
        "recovered": True,
        "rooms": sorted([first["id"], "r"]),
        "data": {"server": "a"},
    }


async def test_requests_span_python_and_node(make: Harness) -> None:
    py, node = await make.py("a"), await make.node()
    on_py, on_node = await make.client(py.url), await make.client(node.url)
    py_id, node_id = on_py.seen("connect")[0]["id"], on_node.seen("connect")[0]["id"]
    main = py.io.of("/")
    assert await main.adapter.server_count() == 2
    assert await node.call("count") == 2

    sockets = await main.fetch_sockets()
    assert sorted((s.id, s.data["server"]) for s in sockets) == sorted(
        [(py_id, "a"), (node_id, "node")]
    )
    fetched = await node.call("fetch")
    assert sorted(s["id"] for s in fetched) == sorted([py_id, node_id])

    assert await main.server_side_emit("hello", 1, timeout=5) == ["node:1"]
    assert await node.call("sse", event="hello", args=[2]) == ["a:2"]

    main.sockets_join("x")  # an entry of the stream: the Node server's socket joins too
    for _ in range(100):
        if len(await node.call("fetch", rooms=["x"])) == 2:
            break
        await asyncio.sleep(0.02)
    await node.call("emit", rooms=["x"], event="news", args=["to-x"])
    for client in (on_py, on_node):
        await eventually(lambda client=client: client.values("news") == ["to-x"])
