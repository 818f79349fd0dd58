"""aiosio.server.recovery: connection state recovery, the server's side.

A real server with ``connection_state_recovery`` and real clients connected in memory
(aiosio.testing). :func:`aiosio.testing.drop` cuts a connection as a network failure
would ("transport error", recoverable); the client reconnects by itself with its ``pid``
and last offset. What is checked: the same id, rooms and data, ``recovered`` on both
sides, the broadcasts it missed (only those meant for it) replayed once and in order,
and a fresh session when the window has passed (the client's reconnection delay is made
longer than the window), when the kept packets no longer cover what it missed, or when
the disconnection was not recoverable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.server.recovery import RECOVERABLE_REASONS, Recovery
from tests.support.waits import within


@dataclass
class Scene:
    """A server with recovery, one in-memory client, and queues of what happened."""

    io: aiosio.Server
    client: aiosio.Client
    sockets: asyncio.Queue[aiosio.Socket]
    server_reasons: asyncio.Queue[str]
    news: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    connects: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    client_reasons: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    async def socket(self) -> aiosio.Socket:
        return await within(self.sockets.get())

    async def dropped(self, peer: aiosio.Client | aiosio.Socket | None = None) -> None:
        """Cut the connection; return once the server has seen the socket go."""
        aiosio.testing.drop(peer or self.client)
        assert await within(self.server_reasons.get()) == "transport error"

    async def news_items(self, count: int) -> list[Any]:
        return [await within(self.news.get()) for _ in range(count)]

    async def synced(self) -> None:
        """Every event sent to the client before this was handled by it."""
        assert await within(self.client.emit_with_ack("sync", timeout=2)) == "synced"


@asynccontextmanager
async def scene(
    recovery: dict[str, Any] | bool = True,
    *,
    rooms: tuple[str, ...] = ("a", "b"),
    **client_options: Any,
) -> AsyncIterator[Scene]:
    io = aiosio.Server(connection_state_recovery=recovery)
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    server_reasons: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        if not socket.recovered:
            socket.join(list(rooms))
            socket.data = {"name": "kept", "n": len(rooms)}
        socket.on("sync", lambda: "synced")
        socket.on("disconnect", lambda reason, *rest: server_reasons.put_nowait(str(reason)))
        sockets.put_nowait(socket)

    options = {"reconnection_delay": 0.02, "randomization_factor": 0, **client_options}
    async with aiosio.testing.connect(io, **options) as client:
        made = Scene(io, client, sockets, server_reasons)
        client.on("news", lambda value, *offset: made.news.put_nowait(value))
        client.on("connect", lambda: made.connects.put_nowait(None))  # reconnections
        client.on("disconnect", lambda reason, *_: made.client_reasons.put_nowait(str(reason)))
        yield made
    await io.close()


def test_the_option_makes_a_recovery_with_its_settings() -> None:
    assert aiosio.Server().recovery is None
    default = aiosio.Server(connection_state_recovery=True).recovery
    assert isinstance(default, Recovery)
    assert default.limits.max_age == 120.0 and default.skip_middlewares
    tuned = aiosio.Server(
        connection_state_recovery={
            "max_disconnection_duration": 5,
            "skip_middlewares": False,
            "max_packets": 3,
            "max_bytes": 100,
        }
    ).recovery
    assert (tuned.limits.max_age, tuned.limits.max_packets, tuned.limits.max_bytes) == (5, 3, 100)
    assert not tuned.skip_middlewares
    with pytest.raises(TypeError):
        aiosio.Server(connection_state_recovery={"max_disconnection_durations": 1})


def test_the_recoverable_reasons_are_the_references() -> None:
    assert {"transport error", "transport close", "ping timeout"} <= RECOVERABLE_REASONS
    assert "server namespace disconnect" not in RECOVERABLE_REASONS
    assert "client namespace disconnect" not in RECOVERABLE_REASONS


async def test_a_recovered_socket_has_its_id_rooms_and_data_back() -> None:
    async with scene() as s:
        first = await s.socket()
        assert not first.recovered and not s.client.recovered
        await s.dropped()
        again = await s.socket()
        assert again.recovered and again.id == first.id
        assert again.rooms == {first.id, "a", "b"}
        assert again.data == {"name": "kept", "n": 2}
        await within(s.connects.get())
        assert s.client.recovered and s.client.id == first.id
        await s.synced()


async def test_missed_broadcasts_meant_for_it_are_replayed_once_in_order() -> None:
    async with scene() as s:
        first = await s.socket()
        s.io.to("a").emit("news", 1)
        assert await s.news_items(1) == [1]
        await s.dropped()
        s.io.to("a").emit("news", 2)
        s.io.to("b").emit("news", 3)
        s.io.to("c").emit("news", "not a member")
        s.io.except_("a").emit("news", "excluded")
        s.io.volatile.emit("news", "volatile: never kept")
        s.io.to(first.id).emit("news", 4)  # its own room
        s.io.emit("news", 5)
        await s.socket()
        assert await s.news_items(4) == [2, 3, 4, 5]
        s.io.emit("news", 6)
        assert await s.news_items(1) == [6]
        await s.synced()
        assert s.news.empty()  # nothing twice


async def test_a_second_drop_replays_only_what_was_missed_since() -> None:
    async with scene() as s:
        first = await s.socket()
        await s.dropped()
        s.io.emit("news", 1)
        await s.socket()
        assert await s.news_items(1) == [1]
        s.io.emit("news", 2)
        assert await s.news_items(1) == [2]  # the client's offset is now 2's
        await s.dropped()
        s.io.emit("news", 3)
        again = await s.socket()
        assert again.recovered and again.id == first.id
        assert await s.news_items(1) == [3]
        await s.synced()
        assert s.news.empty()


async def test_a_drop_from_the_servers_side_is_recovered_too() -> None:
    async with scene() as s:
        first = await s.socket()
        await s.dropped(first)
        s.io.to("b").emit("news", "while away")
        again = await s.socket()
        assert again.recovered and again.id == first.id
        assert await s.news_items(1) == ["while away"]


async def test_after_the_window_the_client_gets_a_fresh_session() -> None:
    # Reconnecting after 0.3 s, past a window of 0.05 s: nothing is kept any more.
    window = {"max_disconnection_duration": 0.05}
    async with scene(window, reconnection_delay=0.3, reconnection_delay_max=0.3) as s:
        first = await s.socket()
        await s.dropped()
        s.io.to("a").emit("news", "missed for good")
        again = await within(s.sockets.get(), 5)
        assert not again.recovered and again.id != first.id
        assert again.rooms == {again.id, "a", "b"}  # joined afresh by the handler
        await within(s.connects.get())
        assert not s.client.recovered and s.client.id == again.id
        s.io.to("a").emit("news", "new")
        assert await s.news_items(1) == ["new"]


async def test_when_the_missed_packets_are_no_longer_kept_the_session_is_fresh() -> None:
    async with scene({"max_packets": 2}) as s:
        first = await s.socket()
        await s.dropped()
        for n in range(3):  # one more than kept: the first missed one is gone
            s.io.emit("news", n)
        again = await s.socket()
        assert not again.recovered and again.id != first.id
        await s.synced()
        assert s.news.empty()


async def test_a_server_disconnect_is_not_recoverable() -> None:
    async with scene(reconnection=False) as s:
        first = await s.socket()
        first.disconnect()
        assert await within(s.server_reasons.get()) == "server namespace disconnect"
        assert await within(s.client_reasons.get()) == "io server disconnect"
        s.io.emit("news", "after")
        await within(s.client.connect(), 5)  # with its pid: nothing to restore
        again = await s.socket()
        assert not again.recovered and again.id != first.id
        assert not s.client.recovered
        await s.synced()
        assert s.news.empty()


async def test_without_recovery_a_drop_gives_a_new_socket() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.connect(io, reconnection_delay=0.02) as client:
        first = await within(sockets.get())
        assert first.pid is None
        aiosio.testing.drop(client)
        second = await within(sockets.get())
        assert not second.recovered and second.id != first.id
    await io.close()


@pytest.mark.parametrize("skip", [True, False])
async def test_middlewares_are_skipped_on_recovery_unless_asked(skip: bool) -> None:
    io = aiosio.Server(connection_state_recovery={"skip_middlewares": skip})
    seen: list[bool] = []
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.use
    def middleware(socket: aiosio.Socket) -> None:
        seen.append(socket.recovered)

    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.connect(io, reconnection_delay=0.02) as client:
        first = await within(sockets.get())
        aiosio.testing.drop(client)
        again = await within(sockets.get())
        assert again.recovered and again.id == first.id
    await io.close()
    assert seen == ([False] if skip else [False, True])


async def test_recovery_works_in_another_namespace() -> None:
    io = aiosio.Server(connection_state_recovery=True)
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    gone: asyncio.Queue[str] = asyncio.Queue()
    admin = io.of("/admin")

    @admin.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        if not socket.recovered:
            socket.join("ops")
        socket.on("disconnect", lambda reason, *rest: gone.put_nowait(str(reason)))
        sockets.put_nowait(socket)

    news: asyncio.Queue[Any] = asyncio.Queue()
    async with aiosio.testing.connect(io, "/admin", reconnection_delay=0.02) as client:
        client.on("news", lambda value, *offset: news.put_nowait(value))
        first = await within(sockets.get())
        aiosio.testing.drop(first)
        assert await within(gone.get()) == "transport error"
        admin.to("ops").emit("news", "ops")
        io.emit("news", "main namespace: not for it")
        again = await within(sockets.get())
        assert again.recovered and again.id == first.id and "ops" in again.rooms
        assert await within(news.get()) == "ops"
    await io.close()
