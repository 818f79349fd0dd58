"""Limits that need time or volume, over raw sockets on both front doors: slow consumers
(the per-socket outgoing bound, without slowing a broadcast to the others), origin checks
on WebSocket upgrades, the connect timeout, the heartbeat, and what a client may send
while ``allow_request`` decides.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import time
from typing import Any

import pytest

import aiosio
from aiosio.serve import HTTPConnection, WebSocketConnection
from tests.hostile.hostile_support import Serve, assert_healthy, echo_server, wait_for
from tests.support.peers import (
    Peer,
    open_polling,
    open_websocket,
    poll,
    polling,
    post,
    request,
    sio_connect,
    sio_websocket,
    websocket,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def recording_server(**options: Any) -> tuple[aiosio.Server, dict[str, str]]:
    """An echo server that records why each socket left, and answers ``flood(n, size)``
    with ``n`` emits of ``size`` characters to the asking socket."""
    io = echo_server(**options)
    reasons: dict[str, str] = {}

    @io.on("connection")
    def connection(socket: Any) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.__setitem__(socket.id, reason))

        @socket.on("flood")
        def flood(count: int, size: int) -> None:
            for i in range(count):
                socket.emit("flood", i, "x" * size)

    return io, reasons


# -- slow consumers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "size"), [(1001, 1), (5, 100_000)], ids=["1001-packets", "500-kb"]
)
async def test_polling_client_that_never_polls(serve: Serve, count: int, size: int) -> None:
    io, reasons = recording_server(max_http_buffer_size=100_000)  # 400 kB queued at most
    served = await serve(io)
    sid = await open_polling(served.port)
    await post(served.port, sid, "40")
    socket_id = json.loads((await poll(served.port, sid))[0][2:])["sid"]
    await post(served.port, sid, f'42["flood",{count},{size}]')
    await wait_for(lambda: socket_id in reasons)
    assert reasons[socket_id] == "transport buffer full"
    assert sid not in served.io.engine.sessions
    await assert_healthy(served.port)


async def test_polling_client_under_the_bounds_keeps_its_packets(serve: Serve) -> None:
    io, reasons = recording_server(max_http_buffer_size=100_000)
    served = await serve(io)
    sid = await open_polling(served.port)
    await post(served.port, sid, "40")
    await poll(served.port, sid)
    await post(served.port, sid, '42["flood",3,100000]')  # 300 kB: under 400 kB
    received: list[str] = []
    async with asyncio.timeout(5):
        while len(received) < 3:
            received += await poll(served.port, sid)
    assert [json.loads(p[2:])[1] for p in received] == [0, 1, 2]
    assert not reasons


async def test_websocket_client_that_never_reads_leaves_the_broadcast_prompt(
    serve: Serve,
) -> None:
    io, reasons = recording_server(max_http_buffer_size=100_000)  # 400 kB buffered at most
    served = await serve(io)
    if served.standalone:
        # The server aborts the connection of a peer that does not read its close.
        limits = dataclasses.replace(io.router.limits, close_timeout=0.3)
        io.router.limits = limits  # type: ignore[misc]
    slow = await Peer.connect(served.port, rcvbuf=4096)
    assert await slow.upgrade(websocket()) is None
    await slow.packet()
    slow_id = await sio_connect(slow)
    slow.writer.transport.pause_reading()  # type: ignore[attr-defined]
    fast = [await sio_websocket(served.port) for _ in range(3)]
    ticks, payload = 200, "y" * 20_000  # 4 MB for each client

    async def read_all(peer: Peer) -> float:
        for i in range(ticks):
            packet = await peer.packet()
            assert isinstance(packet, str) and json.loads(packet[2:])[:2] == ["tick", i]
        return time.monotonic()

    readers = [asyncio.create_task(read_all(peer)) for peer in fast]
    for i in range(ticks):
        io.emit("tick", i, payload)
        await asyncio.sleep(0)  # one broadcast per loop iteration, as handlers would
    sent = time.monotonic()
    async with asyncio.timeout(10):
        done = await asyncio.gather(*readers)
    assert max(done) - sent < 2.0, "the other clients were held up"
    await wait_for(lambda: slow_id in reasons)
    assert reasons[slow_id] == "transport buffer full"
    if served.standalone:
        # Nothing of the slow connection remains: its transport was aborted.
        def open_connections() -> int:
            return sum(
                1
                for obj in gc.get_objects()
                if type(obj) in (HTTPConnection, WebSocketConnection)
                and obj.transport is not None
                and obj.engine is io.engine  # this test's server (not another test's leftovers)
            )

        await wait_for(lambda: open_connections() <= 3)
    await assert_healthy(served.port)


# -- origins -------------------------------------------------------------------------------

ALLOWED = "https://good.example"
EVIL = "https://evil.example"


async def test_cors_allowed_origins_guards_websocket_upgrades(serve: Serve) -> None:
    served = await serve(echo_server(cors_allowed_origins=[ALLOWED]))
    peer = await Peer.connect(served.port)
    refused = await peer.upgrade(websocket(), f"Origin: {EVIL}")
    assert refused is not None and refused.status == 400
    message = json.loads(refused.body)["message"]
    assert EVIL in message and "cors_allowed_origins" in message
    assert not served.io.engine.sessions
    peer = await Peer.connect(served.port)
    assert await peer.upgrade(websocket(), f"Origin: {ALLOWED}") is None
    # and a polling handshake, and an upgrade of a polling session
    answer = await request(served.port, "GET", polling(), b"", f"Origin: {EVIL}")
    assert answer.status == 400 and "cors_allowed_origins" in answer.json()["message"]
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    refused = await peer.upgrade(websocket(sid), f"Origin: {EVIL}")
    assert refused is not None and refused.status == 400
    await assert_healthy(served.port)  # no Origin: not a browser, allowed


# -- deadlines ------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_timeout(serve: Serve, transport: str) -> None:
    served = await serve(echo_server(connect_timeout=0.2))
    if transport == "websocket":
        peer, sid = await open_websocket(served.port)
        assert await peer.closed()
    else:
        sid = await open_polling(served.port)
    await wait_for(lambda: sid not in served.io.engine.sessions)
    await assert_healthy(served.port)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_silent_clients_time_out(serve: Serve, transport: str) -> None:
    io, reasons = recording_server(ping_interval=0.2, ping_timeout=0.2)
    served = await serve(io)
    if transport == "websocket":
        peer, sid = await open_websocket(served.port)
        peer.text("40")
        assert (await peer.message())[1].startswith("40{")  # type: ignore[union-attr]
        assert await peer.closed()  # the pings are never answered
    else:
        sid = await open_polling(served.port)
        await post(served.port, sid, "40")
        await poll(served.port, sid)  # then never again
    await wait_for(lambda: sid not in served.io.engine.sessions)
    assert list(reasons.values()) == ["ping timeout"]
    await assert_healthy(served.port)


async def test_bytes_sent_while_allow_request_decides_are_bounded(serve: Serve) -> None:
    decided = asyncio.Event()

    async def allow(request: Any) -> bool:
        await decided.wait()
        return True

    served = await serve(echo_server(allow_request=allow, max_http_buffer_size=10_000))
    if not served.standalone:
        pytest.skip("uvicorn reads frames only after the handshake is accepted")
    peer = await Peer.connect(served.port)
    peer.send(
        b"GET " + websocket().encode() + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + b"\x00" * 20_000
    )
    assert await peer.closed()
    decided.set()
    await assert_healthy(served.port)
