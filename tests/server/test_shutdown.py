"""Graceful shutdown with connection state recovery: clients are disconnected with a
recoverable reason, in batches spread over ``shutdown_spread`` seconds (issue 7)."""

from __future__ import annotations

import asyncio

import aiosio
import socketio


async def test_shutdown_spreads_disconnections_in_batches() -> None:
    io = aiosio.Server(
        ping_interval=0.5,
        ping_timeout=1.0,
        connection_state_recovery={"max_disconnection_duration": 30, "shutdown_spread": 0.5},
    )
    loop = asyncio.get_running_loop()
    closed: list[tuple[float, str]] = []
    connected = asyncio.Event()
    count = 20

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        @socket.on("disconnect")
        def disconnect(reason: str) -> None:
            closed.append((loop.time(), reason))

        if len(io.sockets.sockets) == count:
            connected.set()

    port = await io.start("127.0.0.1", 0)
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(count)]
    try:
        await asyncio.gather(
            *(c.connect(f"http://127.0.0.1:{port}", transports=["websocket"]) for c in clients)
        )
        async with asyncio.timeout(10):
            await connected.wait()
        started = loop.time()
        await io.close()
    finally:
        for client in clients:
            await client.disconnect()
    assert len(closed) == count
    assert {reason for _, reason in closed} == {"server shutting down"}
    moments = sorted(at - started for at, _ in closed)
    # Ten batches, a twentieth of a second apart: the last leaves well after the first.
    assert moments[-1] - moments[0] >= 0.3
    assert len({round(m, 2) for m in moments}) >= 5
