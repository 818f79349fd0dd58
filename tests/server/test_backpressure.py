"""Backpressure over real sockets on both front doors: a reader that stops and resumes.

The slow reader is a raw WebSocket peer with a small receive buffer that simply does not
read for a while: the kernel buffers fill, then the server's own buffer grows, and the
server-side producer sees it through ``writable``, ``buffered_bytes`` and ``drain()``.
Marks are small (64 KiB high, 16 KiB low) so that little has to be sent.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import Disconnected
from tests.server.test_admission import FRONT_DOORS, HANDSHAKE, get, post, serving, sid_of
from tests.support.peers import Peer, sio_connect, websocket
from tests.support.waits import within

HIGH, LOW = 64 * 1024, 16 * 1024
CHUNK = "x" * 8192


def server() -> aiosio.Server:
    return aiosio.Server(high_water_mark=HIGH, low_water_mark=LOW, transports=["websocket"])


async def slow_reader(port: int) -> Peer:
    """A Socket.IO connection over WebSocket that reads only when asked to."""
    peer = await Peer.connect(port, rcvbuf=4096)
    assert await peer.upgrade(websocket()) is None
    opened = await peer.packet()
    assert isinstance(opened, str) and opened.startswith("0")
    await sio_connect(peer)
    return peer


async def events(peer: Peer, name: str, count: int) -> list[Any]:
    """The arguments of the next ``count`` ``name`` events (others are skipped)."""
    found: list[Any] = []
    while len(found) < count:
        packet = await peer.packet(timeout=20)
        if isinstance(packet, str) and packet.startswith("42"):
            event, *args = json.loads(packet[2:])
            if event == name:
                found.append(args[0] if len(args) == 1 else args)
    return found


class Producer:
    """What the server side saw while sending ``count`` chunks with ``drain()``."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent = 0
        self.blocked = asyncio.Event()  # drain() had to wait
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.max_buffered = 0
        self.drains = 0

    async def run(self, socket: aiosio.Socket) -> None:
        try:
            for i in range(self.count):
                socket.emit("chunk", i, CHUNK)
                self.sent += 1
                await asyncio.sleep(0)  # this iteration's flush: the buffer is measured
                self.max_buffered = max(self.max_buffered, socket.buffered_bytes)
                if not socket.writable:
                    assert socket.buffered_bytes > HIGH
                    self.blocked.set()
                await socket.drain()
                assert socket.buffered_bytes <= HIGH
            self.done.set_result(None)
        except BaseException as exc:
            self.done.set_exception(exc)


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_drain_waits_while_the_reader_stops_and_returns_when_it_resumes(kind: str) -> None:
    io = server()
    producer = Producer(count=600)  # 4.8 MB: more than the kernel buffers hold

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("drain", lambda: setattr(producer, "drains", producer.drains + 1))
        socket.on("produce", lambda: io.spawn(producer.run(socket)))

    async with serving(io, kind) as port:
        peer = await slow_reader(port)
        peer.text('42["produce"]')
        await within(producer.blocked.wait(), 20)  # the peer does not read: drain waits
        stalled = producer.sent
        assert stalled < producer.count and not producer.done.done()
        chunks = await within(events(peer, "chunk", producer.count), 60)  # it reads again
        await within(producer.done, 10)
        await peer.aclose()
    assert [index for index, _ in chunks] == list(range(producer.count))  # all, in order
    # The buffer stayed near the high mark, far from the hard limit (4 MB).
    assert producer.max_buffered <= HIGH + 2 * len(CHUNK) + 1024
    assert producer.drains >= 1


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_drain_raises_disconnected_when_the_socket_goes(kind: str) -> None:
    io = server()
    producer = Producer(count=10_000)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("produce", lambda: io.spawn(producer.run(socket)))

    async with serving(io, kind) as port:
        peer = await slow_reader(port)
        peer.text('42["produce"]')
        await within(producer.blocked.wait(), 20)
        peer.reset()
        with pytest.raises(Disconnected):
            await within(producer.done, 10)


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_conflation_keeps_the_newest_value_per_key(kind: str) -> None:
    io = server()
    filled = asyncio.Event()
    ticks = 200

    async def ticker(socket: aiosio.Socket) -> None:
        socket.overflow = "conflate"
        i = 0
        while socket.writable:  # fill the buffer with reliable data
            socket.emit("chunk", i, CHUNK)
            i += 1
            await asyncio.sleep(0)
        for value in range(ticks):
            socket.latest("BTC").emit("tick", value)
            socket.latest("ETH").emit("tick", -value)
            socket.volatile.emit("noise", value)  # dropped above the high mark
        filled.set()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("produce", lambda: io.spawn(ticker(socket)))

    async with serving(io, kind) as port:
        peer = await slow_reader(port)
        peer.text('42["produce"]')
        await within(filled.wait(), 20)
        got = await within(events(peer, "tick", 2), 30)
        peer.text('42["produce"]')  # a marker: whatever came before it has come
        await peer.aclose()
    assert got == [ticks - 1, -(ticks - 1)]  # only the newest of each key, after the drain


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_a_broadcast_never_waits_for_a_slow_socket(kind: str) -> None:
    io = server()
    slow_full = asyncio.Event()

    async def fill(socket: aiosio.Socket) -> None:
        socket.overflow = "drop_volatile"
        i = 0
        while socket.writable:
            socket.emit("chunk", i, CHUNK)
            i += 1
            await asyncio.sleep(0)
        slow_full.set()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("fill", lambda: io.spawn(fill(socket)))

    async with serving(io, kind) as port:
        slow = await slow_reader(port)
        slow.text('42["fill"]')
        await within(slow_full.wait(), 20)
        fast = await aiosio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        heard: list[int] = []
        all_heard = asyncio.get_running_loop().create_future()

        @fast.on("news")
        def news(value: int) -> None:
            heard.append(value)
            if len(heard) == 20:
                all_heard.set_result(None)

        try:
            for value in range(10):
                io.emit("news", value)
                io.volatile.emit("news", 10 + value)  # the slow socket drops these
            await within(all_heard, 10)
        finally:
            await fast.disconnect()
        assert sorted(heard) == list(range(20))
        (behind,) = [s for s in io.sockets.sockets.values() if s.overflow == "drop_volatile"]
        assert not behind.writable and behind.connected
        # The slow socket gets the reliable ones when it reads, none of the volatile ones
        # (each came right after a reliable one).
        assert await within(events(slow, "news", 10), 30) == list(range(10))
        await slow.aclose()


def test_bad_marks_and_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        aiosio.Server(high_water_mark=10, low_water_mark=20)
    with pytest.raises(ValueError):
        aiosio.Server(max_http_buffer_size=1000, high_water_mark=5000)
    with pytest.raises(ValueError):
        aiosio.Server(low_water_mark=-1)


async def test_an_unknown_policy_is_refused_and_drain_is_reserved() -> None:
    io = aiosio.Server()
    async with aiosio.testing.connect(io) as client:
        assert client.connected
        socket = next(iter(io.sockets.sockets.values()))
        assert socket.overflow == "close" and socket.writable and socket.buffered_bytes == 0
        await socket.drain()  # writable: at once
        with pytest.raises(ValueError):
            socket.overflow = "ignore"  # type: ignore[assignment]
        with pytest.raises(aiosio.ReservedEventError):
            socket.emit("drain")
    assert not socket.writable
    with pytest.raises(Disconnected):
        await socket.drain()


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_over_polling_a_long_poll_taking_the_queue_is_the_drain(kind: str) -> None:
    io = aiosio.Server(high_water_mark=HIGH, low_water_mark=LOW)
    behind = asyncio.Event()
    drained: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def fill(socket: aiosio.Socket) -> None:
        while socket.writable:  # nobody polls meanwhile: it all waits for a GET
            socket.emit("chunk", CHUNK)
            await asyncio.sleep(0)
        behind.set()
        await socket.drain()
        drained.set_result(socket.buffered_bytes)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("fill", lambda: io.spawn(fill(socket)))

    async with serving(io, kind) as port:
        sid = sid_of((await get(port))[2])
        assert await post(port, sid, "40") == 200
        assert b"40{" in (await get(port, f"{HANDSHAKE}&sid={sid}"))[2]
        assert await post(port, sid, '42["fill"]') == 200
        await within(behind.wait(), 10)
        assert not drained.done()
        taken = await get(port, f"{HANDSHAKE}&sid={sid}")  # the long-poll takes it all
        assert taken[0] == 200 and len(taken[2]) > HIGH
        assert await within(drained, 5) == 0
