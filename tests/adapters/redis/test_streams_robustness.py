"""The Redis streams adapter when things go wrong: Redis unreachable or restarting, bad
entries in the stream, a full outbox, sessions that cannot be kept; and without recovery.
Clients are aiosio clients in this process."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

import aiosio
from aiosio.adapters.base import Session
from aiosio.adapters.redis.streams import StreamsAdapter, streams_adapter
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import eventually
from tests.adapters.streams_support import OFFSET
from tests.support.ports import free_port
from tests.support.servers import start_redis

pytestmark = pytest.mark.redis


@dataclass
class Node:
    io: aiosio.Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def adapter(self) -> StreamsAdapter:
        adapter = self.io.of("/").adapter
        assert isinstance(adapter, StreamsAdapter)
        return adapter


@dataclass
class Peer:
    """An aiosio client recording its ``x`` events."""

    client: aiosio.Client
    seen: list[tuple[Any, ...]] = field(default_factory=list)

    def values(self) -> list[Any]:
        return [args[0] for args in self.seen]

    def drop(self) -> None:
        """The connection drops as a network failure would; no automatic reconnection."""
        self.client.io.reconnection = False
        engine = self.client.io.engine
        assert engine is not None
        engine.abort()
        self.client.io.on_close("transport close", None)


class Harness:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.stream = f"r-{uuid.uuid4().hex[:10]}"
        self.redis = aioredis.Redis.from_url(redis_url)
        self.servers: list[aiosio.Server] = []
        self.peers: list[Peer] = []

    def server(self, *, recovery: bool = True, url: str | None = None, **options: Any) -> Node:
        io = aiosio.Server(
            adapter=streams_adapter(
                url or self.redis_url,
                stream_name=self.stream,
                channel_prefix=self.stream,
                **options,
            ),
            connection_state_recovery={"max_disconnection_duration": 30} if recovery else None,
        )
        self.servers.append(io)
        return Node(io, 0)

    async def start(self, *, recovery: bool = True, url: str | None = None, **options: Any) -> Node:
        node = self.server(recovery=recovery, url=url, **options)
        node.port = await node.io.start(port=0)
        return node

    async def peer(self, node: Node) -> Peer:
        client = aiosio.Client(node.url, transports=["websocket"], force_new=True)
        peer = Peer(client)
        client.on("x", lambda *args: peer.seen.append(args))
        await client.connect()
        self.peers.append(peer)
        return peer

    async def persisted(self, pid: str) -> None:
        for _ in range(250):
            if await self.redis.exists(f"sio:session:{pid}"):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"session {pid} was not persisted")

    async def read_to_the_end(self, node: Node, added: int) -> None:
        """Wait until ``added`` entries were ever added to the stream, and the reader of
        ``node`` reached the last one."""
        for _ in range(250):
            if await self.redis.exists(self.stream):
                info: Any = await self.redis.xinfo_stream(self.stream)
                if info["entries-added"] >= added:
                    break
            await asyncio.sleep(0.02)
        tail = await self.redis.xrevrange(self.stream, "+", "-", count=1)
        last = tail[0][0].decode() if tail else "0-0"
        await eventually(lambda: node.adapter.recovery_offset() == last)

    async def close(self) -> None:
        for peer in self.peers:
            await peer.client.disconnect()
        for io in self.servers:
            await io.close()
        await self.redis.delete(self.stream)
        await self.redis.aclose()


@pytest.fixture
async def make(redis_url: str) -> AsyncIterator[Harness]:
    harness = Harness(redis_url)
    yield harness
    await harness.close()


async def test_without_recovery_broadcasts_cross_once_without_offsets(make: Harness) -> None:
    a, b = await make.start(recovery=False), await make.start(recovery=False)
    peer = await make.peer(a)
    a.io.emit("x", 1)  # delivered at once, not read back
    b.io.emit("x", 2)
    await eventually(lambda: len(peer.seen) == 2)
    await asyncio.sleep(0.1)
    assert sorted(peer.seen) == [(1,), (2,)]


async def test_bad_entries_are_skipped_live_and_in_replays(make: Harness) -> None:
    a, b = await make.start(), await make.start()
    peer = await make.peer(a)
    a.io.emit("x", 0)
    await eventually(lambda: len(peer.seen) == 1)
    peer.drop()
    await eventually(lambda: not a.io.of("/").sockets)
    opts = '"opts":{"rooms":[],"except":[],"flags":{}}'
    empty = '{"packet":{"type":2,"data":[]},' + opts + "}"
    with_ack = '{"packet":{"type":2,"data":["x",9]},"requestId":"q",' + opts + "}"
    for fields in [
        {"uid": "u", "nsp": "/", "type": "99"},  # unknown type
        {"uid": "u", "type": "3", "data": "{}"},  # no namespace: skipped as Node does
        {"uid": "u", "nsp": "/elsewhere", "type": "3", "data": "{}"},  # nobody here
        {"uid": "u", "nsp": "/", "type": "3", "data": "{bad json"},
        {"uid": "u", "nsp": "/", "type": "3", "data": empty},  # no event name
        {"uid": "u", "nsp": "/", "type": "3", "data": with_ack},  # never in a stream
    ]:
        await make.redis.xadd(make.stream, fields)  # type: ignore[arg-type]
    b.io.of("/").sockets_join("y")  # an entry of another type
    b.io.emit("x", 1)
    await make.read_to_the_end(a, 9)
    await peer.client.connect()
    assert peer.client.recovered
    await eventually(lambda: len(peer.seen) >= 2)
    await asyncio.sleep(0.1)
    assert peer.values() == [0, 1]
    assert a.io.healthy


async def test_session_data_that_cannot_be_kept(make: Harness, caplog: Any) -> None:
    a = await make.start()

    @a.io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.data = {"handle": object()}  # msgpack cannot write it

    peer = await make.peer(a)
    first = peer.client.id
    peer.drop()
    await eventually(lambda: "not kept" in caplog.text)
    await peer.client.connect()
    assert not peer.client.recovered and peer.client.id != first


async def test_redis_unreachable(make: Harness, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    url = f"redis://127.0.0.1:{free_port()}"
    a = await make.start(url=url, requests_timeout=0.3)
    assert not a.io.healthy
    peer = await make.peer(a)
    first = peer.client.id
    a.io.emit("x", 1)  # the XADD fails: delivered here without an offset
    await eventually(lambda: peer.seen == [(1,)])
    with pytest.raises(ClusterError):
        await a.adapter.server_count()
    with pytest.raises(ClusterError):
        await a.adapter.restore_session("pid", "1-0")
    peer.drop()
    await peer.client.connect()  # the session could not be kept nor restored: fresh
    assert not peer.client.recovered and peer.client.id != first


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_redis_restarts_under_the_cluster(make: Harness) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    try:
        a, b = await make.start(url=url, block_time=0.5), await make.start(url=url, block_time=0.5)
        peer = await make.peer(a)
        assert a.io.healthy and b.io.healthy
        redis.terminate()
        await asyncio.to_thread(redis.wait)
        await eventually(lambda: not a.io.healthy and not b.io.healthy)
        a.io.emit("x", 1)  # local delivery goes on
        await eventually(lambda: peer.values() == [1])
        redis = start_redis(port, daemonize=False)
        assert redis is not None
        await eventually(lambda: a.io.healthy and b.io.healthy, timeout=15)
        b.io.emit("x", 2)  # the reader reads the new stream from where it was
        await eventually(lambda: peer.values() == [1, 2])
        assert OFFSET.fullmatch(peer.seen[1][1])
    finally:
        redis.terminate()
        await asyncio.to_thread(redis.wait)


async def test_started_on_first_use(make: Harness) -> None:
    # An ASGI host without a lifespan never starts the adapters: the first use does.
    factory = streams_adapter(make.redis_url, stream_name=make.stream, channel_prefix=make.stream)
    io = aiosio.Server(adapter=factory, connection_state_recovery=True)
    make.servers.append(io)
    io.emit("x", 1)  # not started yet: stays local
    await eventually(lambda: io.healthy)
    assert factory.healthy
    adapter = io.of("/").adapter
    assert await adapter.server_count() == 1
    await adapter.init()  # already started: nothing happens
    assert await adapter.server_count() == 1


async def test_a_full_outbox_keeps_broadcasts_local(make: Harness) -> None:
    a = await make.start(max_outbox=1)
    peer = await make.peer(a)
    for n in range(3):
        a.io.emit("x", n)  # the second and third find the outbox full
    await eventually(lambda: len(peer.seen) == 3)
    assert sorted(peer.values()) == [0, 1, 2]
    assert [len(args) for args in sorted(peer.seen)] == [2, 1, 1]


async def test_restores_that_cannot_work(make: Harness, caplog: Any) -> None:
    a = await make.start(max_len=2, delivered_kept=1)
    adapter = a.adapter
    adapter.persist_session(Session("s1", "p1", ["s1"]), 30)
    await make.persisted("p1")
    assert await adapter.restore_session("p1", "1-0") is None  # offset not in the stream
    assert await adapter.restore_session("p1", "1-0") is None  # and the session is gone

    adapter.persist_session(Session("s2", "p2", ["s2"], offset="0-0"), 30)
    for n in range(3):
        a.io.emit("x", n)  # more than max_len: "0-0" may have lost entries
    await make.read_to_the_end(a, 3)
    assert await adapter.restore_session("p2", None) is None

    adapter.persist_session(Session("s3", "p3", ["s3"]), 30)  # no offset, none sent
    await make.persisted("p3")
    assert await adapter.restore_session("p3", None) is None

    await make.redis.set("sio:session:p6", "not a session")
    assert await adapter.restore_session("p6", None) is None

    plain = Session("s4", "p4", ["s4"], missed=[["x", 1, "1-1"]])
    assert adapter.missed_packets(plain) == [["x", 1, "1-1"]]  # no offset: as restored

    before = adapter.recovery_offset()
    for n in range(3):
        a.io.emit("x", n)
    await make.read_to_the_end(a, 6)
    late = Session("s5", "p5", ["s5"], offset=before)
    assert [p[1] for p in adapter.missed_packets(late)] == [2]  # only one kept
    assert "during a restore were not kept" in caplog.text

    await a.io.close()
    with pytest.raises(ClusterError):
        await adapter.restore_session("p1", "1-0")
    adapter.persist_session(Session("s7", "p7", ["s7"]), 30)
    assert "session of s7 not kept" in caplog.text


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_first_broadcast_after_a_restart_reaches_the_other_server(make: Harness) -> None:
    """The writer's pooled connection died with Redis: its first XADD after the restart is
    retried once on a fresh connection instead of being dropped."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    try:
        a, b = await make.start(url=url, block_time=0.5), await make.start(url=url, block_time=0.5)
        peer = await make.peer(b)
        a.io.emit("x", 0)  # a's writer has a pooled connection now
        await eventually(lambda: peer.values() == [0])
        redis.terminate()
        await asyncio.to_thread(redis.wait)
        await eventually(lambda: not a.io.healthy and not b.io.healthy)
        redis = start_redis(port, daemonize=False)
        assert redis is not None
        await eventually(lambda: a.io.healthy and b.io.healthy, timeout=15)
        a.io.emit("x", 1)
        await eventually(lambda: peer.values() == [0, 1])
    finally:
        redis.terminate()
        await asyncio.to_thread(redis.wait)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
async def test_a_frozen_redis_turns_health_off_and_back_on(make: Harness) -> None:
    """SIGSTOP leaves the connections open and silent: the PINGs of the pub/sub link notice."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    try:
        a = await make.start(url=url, block_time=0.5, health_timeout=1.0)
        await eventually(lambda: a.io.healthy)
        redis.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        await eventually(lambda: not a.io.healthy, timeout=10)
        assert time.monotonic() - frozen <= 1.75  # the deadline, plus a busy machine's slack
        redis.send_signal(signal.SIGCONT)
        await eventually(lambda: a.io.healthy, timeout=10)
    finally:
        redis.send_signal(signal.SIGCONT)
        redis.terminate()
        await asyncio.to_thread(redis.wait)
