"""Connection state recovery with the official socket.io-client (issue 7).

The client cuts its transport mid-stream (no clean disconnect) while the server keeps
broadcasting; back within the window, it must get its id back, ``recovered`` true, and
every missed tick exactly once and in order. Past the window it gets a fresh session.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from tests.interop.sio.sio_helpers import FRONT_DOORS, serving

pytestmark = pytest.mark.interop


def ticking_server(window: float, total: int, parser: str | None = None) -> aiosio.Server:
    """Broadcasts ``total`` ticks to room "r", one per ready client, then "done"."""
    io = aiosio.Server(
        ping_interval=0.5,
        ping_timeout=1.0,
        parser=parser,
        connection_state_recovery={"max_disconnection_duration": window},
    )
    started = False
    back = asyncio.Event()

    async def tick() -> None:
        for n in range(total):
            io.to("r").emit("tick", n)
            await asyncio.sleep(0.01)  # pacing the stream, not synchronisation
        await back.wait()  # say done once the client is connected again
        io.emit("done")

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        if socket.recovered:
            back.set()
        else:
            socket.join("r")
            socket.data = {"name": "kept"}

        @socket.on("ready")
        def ready() -> None:
            nonlocal started
            assert socket.data == {"name": "kept"}
            if not started:
                started = True
                io.spawn(tick())

    return io


@pytest.mark.parametrize("front_door", FRONT_DOORS)
@pytest.mark.parametrize("transports", ["websocket", "polling", "polling,websocket"])
async def test_missed_broadcasts_are_replayed_once_in_order(
    node: Any, front_door: str, transports: str
) -> None:
    io = ticking_server(window=30, total=60)
    async with serving(io, front_door) as url:
        seen = await node("recovery_driver.js", url, transports, "10", "100")
    assert seen["ticks"] == list(range(60)), seen
    first, second = seen["connects"]
    assert first["recovered"] is False
    assert second == {"id": first["id"], "recovered": True}


async def test_recovery_with_the_msgpack_parser(node: Any) -> None:
    io = ticking_server(window=30, total=40, parser="msgpack")
    async with serving(io, "standalone") as url:
        seen = await node("recovery_driver.js", url, "websocket", "5", "100", "msgpack")
    assert seen["ticks"] == list(range(40))
    assert seen["connects"][1]["recovered"] is True


async def test_a_client_that_got_no_event_yet_is_recovered(node: Any) -> None:
    # The reference cannot do this: the client has no offset to send.
    io = aiosio.Server(ping_interval=0.5, ping_timeout=1.0, connection_state_recovery=True)
    rooms: list[set[str]] = []

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        if not socket.recovered:
            socket.join("lobby")
        rooms.append(socket.rooms)

        @socket.on("ready")
        def ready() -> None:
            if socket.recovered:
                io.to("lobby").emit("done")

    async with serving(io, "standalone") as url:
        seen = await node("recovery_driver.js", url, "websocket", "0", "100")
    first, second = seen["connects"]
    assert second == {"id": first["id"], "recovered": True}
    assert rooms[1] == {first["id"], "lobby"}


async def test_after_the_window_the_session_is_fresh(node: Any) -> None:
    io = aiosio.Server(
        ping_interval=0.5,
        ping_timeout=1.0,
        connection_state_recovery={"max_disconnection_duration": 0.05},
    )

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        @socket.on("ready")
        def ready() -> None:
            if len(connects) == 1:
                io.emit("tick", 0)
            else:
                io.emit("done")

        connects.append(socket.id)

    connects: list[str] = []
    async with serving(io, "standalone") as url:
        # Reconnects 500 ms after the cut: well past the 50 ms window.
        seen = await node("recovery_driver.js", url, "websocket", "1", "500")
    first, second = seen["connects"]
    assert second["recovered"] is False
    assert second["id"] != first["id"]
