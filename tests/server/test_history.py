"""Room history on one server: rewind then live with no gap and no duplicate (checked by
sequence numbers under concurrent broadcasts), trimming reported, recovery offsets kept,
and the bad inputs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.server.history import MAX_REWIND
from tests.support.waits import Watch, within


async def _listening(server: aiosio.testing.InMemoryServer, event: str) -> tuple[list[Any], Watch]:
    """A new client's ``event`` arguments as they come, and a watch poked by each."""
    client = await server.connect()
    seen: list[Any] = []
    watch = Watch()
    client.on(event, seen.append)
    client.on(event, watch.poke)
    return seen, watch


async def test_rewind_then_live_without_gap_or_duplicate_under_concurrent_broadcasts() -> None:
    io = aiosio.Server()
    io.sockets.history("room", max_len=MAX_REWIND)
    replays: list[Any] = []

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("rewind", lambda: replays.append(socket.join("room", rewind=MAX_REWIND)) and None)

    stop = asyncio.Event()

    async def broadcaster() -> None:
        seq = 0
        while not stop.is_set():
            io.to("room").emit("tick", seq)
            seq += 1
            await asyncio.sleep(0)

    watch = Watch()
    async with aiosio.testing.serve(io) as server:
        task = asyncio.create_task(broadcaster())
        clients = []
        for _ in range(5):
            client = await server.connect()
            seen: list[int] = []
            client.on("tick", seen.append)
            client.on("tick", watch.poke)
            clients.append((client, seen))
            await client.emit_with_ack("rewind", timeout=5)  # joins while ticks go out
        await watch.until(lambda: all(len(seen) > 20 for _, seen in clients))
        stop.set()
        await task
        last = io.sockets.histories.logs["room"].last_seq - 1
        for _, seen in clients:
            await watch.until(lambda seen=seen: seen[-1] == last)
            assert seen == list(range(seen[0], last + 1)), "a gap or a duplicate"
            assert seen[0] == 0  # the history held everything so far: rewind from the start
        assert all(not replay.trimmed for replay in replays)


async def test_trimmed_history_is_reported_with_epoch_and_first_offset() -> None:
    io = aiosio.Server()
    log = io.sockets.history("room", max_len=3)

    async with aiosio.testing.serve(io) as server:
        for n in range(5):
            io.to("room").emit("msg", n)
        seen, watch = await _listening(server, "msg")
        (socket,) = io.sockets.sockets.values()
        replay = socket.join("room", rewind=10)  # more than the history holds
        assert replay is not None
        assert replay.count == 3 and replay.trimmed
        assert replay.epoch == log.epoch and replay.first_offset == f"{log.epoch}-3"
        await watch.until(lambda: len(seen) == 3)
        assert seen == [2, 3, 4]
        fresh = io.sockets.history("fresh", max_len=10)
        io.to("fresh").emit("msg", 1)
        replay = socket.join("fresh", rewind=5)
        assert replay is not None and not replay.trimmed and replay.count == 1
        assert replay.epoch == fresh.epoch


async def test_last_value_cache_ttl_and_what_is_not_kept() -> None:
    io = aiosio.Server()
    io.sockets.history("price", max_len=1, ttl=60)
    async with aiosio.testing.serve(io) as server:
        io.to("price").emit("price", 1)
        io.to("price").emit("price", 2)
        io.to("price").volatile.emit("price", 3)  # volatile: not kept
        io.emit("price", 4)  # not addressed to the room: not kept
        seen, watch = await _listening(server, "price")
        (socket,) = io.sockets.sockets.values()
        socket.join("price", rewind=1)
        await watch.until(lambda: seen)
        assert seen == [2]
        io.to("price").emit("price", 5)
        await watch.until(lambda: len(seen) == 2)
        assert seen == [2, 5]


async def test_replays_carry_recovery_offsets() -> None:
    io = aiosio.Server(connection_state_recovery=True)
    io.sockets.history("room")
    async with aiosio.testing.serve(io) as server:
        io.to("room").emit("msg", "a")
        client = await server.connect()
        got = asyncio.get_running_loop().create_future()
        client.on("msg", got.set_result)
        (socket,) = io.sockets.sockets.values()
        socket.join("room", rewind=5)
        assert await within(got) == "a"
        assert client._last_offset == io.sockets.adapter.recovery_offset()  # moved on


async def test_bad_rewinds_are_refused() -> None:
    io = aiosio.Server()
    io.sockets.history("room")
    async with aiosio.testing.serve(io) as server:
        await server.connect()
        (socket,) = io.sockets.sockets.values()
        for count in (0, -1, MAX_REWIND + 1, "5", True, 1.5):
            with pytest.raises(ValueError):
                socket.join("room", rewind=count)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="no history"):
            socket.join("other", rewind=5)
        with pytest.raises(ValueError, match="one room"):
            socket.join(["room", "x"], rewind=5)
        assert "room" not in socket.rooms
    with pytest.raises(ValueError):
        io.sockets.history("room", max_len=0)
    with pytest.raises(ValueError):
        io.sockets.history("room", max_len=MAX_REWIND + 1)
    with pytest.raises(ValueError):
        io.sockets.history("room", ttl=0)
    io.sockets.histories.remove("room")
    assert io.sockets.adapter.recorder is None  # no history left: the hot path is bare


async def test_history_goes_on_after_a_restart() -> None:
    io = aiosio.Server()
    io.sockets.history("room", max_len=10)
    async with aiosio.testing.serve(io):
        io.to("room").emit("msg", 1)
    # closed: the namespace has a fresh adapter, and the recorder moved to it
    assert io.sockets.adapter.recorder is not None
    async with aiosio.testing.serve(io) as server:
        io.to("room").emit("msg", 2)
        seen, watch = await _listening(server, "msg")
        (socket,) = io.sockets.sockets.values()
        socket.join("room", rewind=10)
        await watch.until(lambda: len(seen) == 2)
        assert seen == [1, 2]


async def test_presence_pushes_are_not_kept() -> None:
    io = aiosio.Server(presence={"interval": 60, "event": "presence"})
    io.sockets.history("room", max_len=10)
    io.on("connection", lambda socket: socket.join("room"))
    async with aiosio.testing.serve(io) as server:
        await server.connect()
        presence = io.sockets.presence
        assert presence is not None
        presence.flush()  # a diff pushed to the room
        io.to("room").emit("msg", 1)
        assert io.sockets.histories.logs["room"].last(10, 0).events == [["msg", 1]]
