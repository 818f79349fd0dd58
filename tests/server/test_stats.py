"""aiosio.server.stats: the engine's counters, on their own and after traffic through a
real server in memory (read from the metrics page, as an operator reads them)."""

from __future__ import annotations

import asyncio

import aiosio
import aiosio.metrics
import aiosio.testing
from aiosio.server.stats import Counters
from tests.support.waits import within


def counters(io: aiosio.Server) -> dict[str, int]:
    """The engine's counters from the metrics page: ``packets_in``, ``packets_out``,
    ``bytes_in``, ``bytes_out``, ``opened`` and ``closed <reason>`` for each reason."""
    names = {
        "aiosio_packets_received_total": "packets_in",
        "aiosio_packets_sent_total": "packets_out",
        "aiosio_bytes_received_total": "bytes_in",
        "aiosio_bytes_sent_total": "bytes_out",
        "aiosio_engine_sessions_opened_total": "opened",
    }
    closed = 'aiosio_engine_sessions_closed_total{reason="'
    found: dict[str, int] = {}
    for line in aiosio.metrics.render(io).splitlines():
        if line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        if name in names:
            found[names[name]] = int(value)
        elif name.startswith(closed):
            found["closed " + name[len(closed) : -2]] = int(value)
    return found


def test_counters_start_at_zero_and_count_closes_by_reason() -> None:
    stats = Counters()
    assert (stats.packets_in, stats.packets_out, stats.bytes_in, stats.bytes_out) == (0, 0, 0, 0)
    assert stats.sessions_opened == 0
    assert stats.sessions_closed == {}
    stats.closed("transport close")
    stats.closed("ping timeout")
    stats.closed("transport close")
    assert stats.sessions_closed == {"transport close": 2, "ping timeout": 1}


def test_a_fresh_server_has_counted_nothing() -> None:
    assert counters(aiosio.Server()) == {
        "packets_in": 0,
        "packets_out": 0,
        "bytes_in": 0,
        "bytes_out": 0,
        "opened": 0,
    }


async def test_packets_and_sessions_are_counted_after_traffic() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda value: value)
        sockets.put_nowait(socket)

    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        socket = await within(sockets.get())
        # In: the client's CONNECT. Out: the CONNECT ack (the handshake's OPEN packet is
        # not counted).
        start = counters(io)
        assert (start["opened"], start["packets_in"], start["packets_out"]) == (1, 1, 1)

        for n in range(3):  # an event and its ack each way: 1 packet in, 1 out
            assert await within(client.emit_with_ack("echo", n, timeout=1)) == n
        after = counters(io)
        assert (after["packets_in"], after["packets_out"]) == (4, 4)

        # A binary event is two Engine.IO packets (the header and one attachment).
        got: asyncio.Queue[bytes] = asyncio.Queue()
        client.on("blob", got.put_nowait)
        socket.emit("blob", b"\x00\x01")
        assert await within(got.get()) == b"\x00\x01"
        assert counters(io)["packets_out"] == 6
        assert await within(client.emit_with_ack("echo", b"\xff", timeout=1)) == b"\xff"
        binary = counters(io)
        assert (binary["packets_in"], binary["packets_out"]) == (6, 8)

        # The standalone front door counts bytes; in memory nothing crosses a socket.
        assert (binary["bytes_in"], binary["bytes_out"]) == (0, 0)


async def test_closed_sessions_are_counted_by_reason() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        sockets.put_nowait(socket)

    async with aiosio.testing.serve(io) as served:
        leaving = await within(served.connect())
        await within(sockets.get())
        await leaving.disconnect()  # the client closes its connection
        assert await within(reasons.get()) == "client namespace disconnect"

        dropped = await within(served.connect(reconnection=False))
        await within(sockets.get())
        aiosio.testing.drop(dropped)
        assert await within(reasons.get()) == "transport error"

        await within(served.connect(reconnection=False))
        closed = await within(sockets.get())
        closed.disconnect(close=True)
        assert await within(reasons.get()) == "server namespace disconnect"

        await within(served.connect(reconnection=False))
        await within(sockets.get())
        await within(io.close())
        assert await within(reasons.get()) == "server shutting down"
    found = counters(io)
    assert found["opened"] == 4
    assert {key: value for key, value in found.items() if key.startswith("closed ")} == {
        "closed transport close": 1,
        "closed transport error": 1,
        "closed forced server close": 1,
        "closed server shutting down": 1,
    }
