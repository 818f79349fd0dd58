"""Presence on one server: members deduplicated per user, counts without fetching
sockets, diffs batched per interval (one timer), pushed to members, and the limits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import InvalidState
from aiosio.server.presence import PresenceSettings
from tests.support.waits import Watch, within


def _server(**settings: Any) -> aiosio.Server:
    io = aiosio.Server(presence={"interval": 0.05, **settings})

    @io.use
    def identify(socket: aiosio.Socket) -> None:
        socket.user = socket.handshake.auth.get("user")
        info = socket.handshake.auth.get("info")
        if info is not None:
            socket.presence_info = info

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.join("lobby")
        socket.on("leave", lambda: socket.leave("lobby"))

    return io


async def test_members_are_users_with_their_socket_counts_and_info() -> None:
    io = _server()
    async with aiosio.testing.serve(io) as server:
        for _ in range(3):
            await server.connect(auth={"user": "ann", "info": {"name": "Ann"}})
        await server.connect(auth={"user": "bob"})
        anonymous = await server.connect()
        members = await io.in_("lobby").presence()
        assert members == sorted(
            [
                {"user": "ann", "sockets": 3, "info": {"name": "Ann"}},
                {"user": "bob", "sockets": 1, "info": None},
                {"user": anonymous.id, "sockets": 1, "info": None},
            ],
            key=lambda member: member["user"],
        )
        assert await io.in_("lobby").count_users() == 3
        assert await io.in_("lobby").count() == 5
        assert await io.in_("nowhere").presence() == []


async def test_diffs_are_batched_and_deduplicated_per_user() -> None:
    io = _server(event="presence", interval=60)  # flushed by hand: no race with the timer
    presence = io.sockets.presence
    assert presence is not None
    diffs: list[tuple[str, list[Any], list[str]]] = []
    io.sockets.on("presence", lambda room, joined, left: diffs.append((room, joined, left)))

    watch = Watch()
    io.sockets.on("leave-room", watch.poke)
    async with aiosio.testing.serve(io) as server:
        watcher = await server.connect(auth={"user": "watcher"})
        pushed: list[Any] = []
        watcher.on("presence", pushed.append)
        watcher.on("presence", watch.poke)
        presence.flush()
        assert diffs == [("lobby", [{"user": "watcher", "sockets": 1, "info": None}], [])]
        tabs = [await server.connect(auth={"user": "ann"}) for _ in range(3)]
        reload = await server.connect(auth={"user": "eve"})
        await reload.disconnect()  # joined and left within one interval: no diff
        await watch.until(lambda: "eve" not in str(presence.table.members("lobby")))
        assert presence._timer is not None  # one timer, armed by the first change
        presence.flush()
        assert diffs[-1] == ("lobby", [{"user": "ann", "sockets": 3, "info": None}], [])
        await watch.until(lambda: len(pushed) == 2)
        assert pushed[1] == {"room": "lobby", "joined": diffs[-1][1], "left": []}
        for tab in tabs[:2]:
            await tab.disconnect()
        await watch.until(lambda: presence.table.count_sockets("lobby") == 2)
        presence.flush()  # ann still has a tab: nothing changed for the room
        assert len(diffs) == 2
        tabs[2].emit("leave")
        await watch.until(lambda: presence.table.count_sockets("lobby") == 1)
        presence.flush()
        assert diffs[-1] == ("lobby", [], ["ann"])
        assert len(diffs) == 3


async def test_one_timer_for_ten_thousand_joins() -> None:
    io = aiosio.Server(presence={"interval": 0.05})
    diffs: list[Any] = []
    done = asyncio.Event()
    io.sockets.on("presence", lambda room, joined, left: diffs.append((room, len(joined))))
    io.sockets.on("presence", lambda room, joined, left: done.set())
    async with aiosio.testing.serve(io) as server:
        await server.connect()
        (socket,) = io.sockets.sockets.values()
        presence = io.sockets.presence
        assert presence is not None
        for n in range(10_000):
            presence._joined("big", socket.id) if n == 0 else presence.table.join("big", f"u{n}")
            presence._schedule()
        timer = presence._timer
        assert timer is not None
        await within(done.wait())
        assert diffs == [("big", 10_000)]
        assert presence._timer is None


async def test_bad_input_is_refused_clearly() -> None:
    io = _server(max_info=64)
    async with aiosio.testing.serve(io) as server:
        await server.connect(auth={"user": "ann"})
        (socket,) = io.sockets.sockets.values()
        with pytest.raises(ValueError, match="over the limit of 64"):
            socket.presence_info = {"bio": "x" * 100}
        with pytest.raises(ValueError, match="JSON"):
            socket.presence_info = {"when": object()}
        with pytest.raises(ValueError, match="one room"):
            await io.in_("a", "b").presence()
    plain = aiosio.Server()
    with pytest.raises(InvalidState, match="presence is off"):
        await plain.in_("lobby").presence()
    with pytest.raises(ValueError):
        PresenceSettings(interval=0)
    with pytest.raises(ValueError, match="reserved"):
        PresenceSettings(event="connect")
    assert PresenceSettings.of(False) is None and PresenceSettings.of(True) == PresenceSettings()


async def test_count_without_presence_counts_the_sockets() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.join("room")

    async with aiosio.testing.serve(io) as server:
        for _ in range(3):
            await server.connect()
        assert await io.in_("room").count() == 3
        assert await io.in_("elsewhere").count() == 0
