"""aiosio.server.session: the server side of one Engine.IO session (ServerSession), as a
real server in memory makes it: one per connection, what it writes, how it closes."""

from __future__ import annotations

import asyncio

import aiosio
import aiosio.testing
from aiosio.server.session import ServerSession
from tests.support.waits import within


def watched_server() -> tuple[aiosio.Server, asyncio.Queue[tuple[str, str]]]:
    """A server whose sockets (in ``/`` and ``/news``) report ``(namespace, reason)``
    when they disconnect."""
    io = aiosio.Server()
    reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def watch(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.put_nowait((socket.namespace, reason)))

    io.on("connection", watch)
    io.of("/news").on("connection", watch)
    return io, reasons


async def test_one_session_per_connection_shared_by_its_namespaces() -> None:
    io, _ = watched_server()
    async with aiosio.testing.serve(io) as served:
        first = await within(served.connect())
        news = first.io.socket("/news")
        await within(news.connect())
        second = await within(served.connect())
        sessions = io.engine.sessions
        assert len(sessions) == 2
        for sid, session in sessions.items():
            assert isinstance(session, ServerSession)
            assert session.sid == sid
            assert session.transport == "websocket"  # the only transport in memory
        # The Engine.IO sid is a credential: never a socket's id.
        socket_ids = {first.id, news.id, second.id}
        assert not socket_ids & set(sessions)


async def test_close_transport_disconnects_every_namespace_with_its_reason() -> None:
    io, reasons = watched_server()
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect(reconnection=False))
        news = client.io.socket("/news")
        await within(news.connect())
        closes: asyncio.Queue[str] = asyncio.Queue()
        client.io.on("close", lambda reason, *_: closes.put_nowait(reason))
        (session,) = io.engine.sessions.values()
        session.close_transport()  # "forced close" by default
        assert {await within(reasons.get()) for _ in range(2)} == {
            ("/", "forced close"),
            ("/news", "forced close"),
        }
        assert await within(closes.get()) == "transport close"
        assert io.engine.sessions == {}
        session.close_transport("again")  # closed already: nothing happens
        session.write('42["late"]')  # nor here: a closed session writes nothing
        assert reasons.empty()


async def test_close_transport_with_a_reason_of_its_own() -> None:
    io, reasons = watched_server()
    async with aiosio.testing.serve(io) as served:
        await within(served.connect(reconnection=False))
        (session,) = io.engine.sessions.values()
        session.close_transport("server shutting down")
        assert await within(reasons.get()) == ("/", "server shutting down")


async def test_what_is_written_before_a_close_is_delivered_first() -> None:
    io, _ = watched_server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect(reconnection=False))
        socket = await within(sockets.get())
        got: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        client.on("last", lambda value: got.put_nowait(("last", value)))
        client.on("disconnect", lambda reason, *_: got.put_nowait(("disconnect", reason)))
        (session,) = io.engine.sessions.values()
        socket.emit("last", 1)
        session.close_transport()
        assert await within(got.get()) == ("last", 1)
        assert await within(got.get()) == ("disconnect", "transport close")


async def test_written_packets_leave_together_in_order() -> None:
    io, _ = watched_server()
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        got: asyncio.Queue[int] = asyncio.Queue()
        client.on("n", got.put_nowait)
        (session,) = io.engine.sessions.values()
        # Raw Engine.IO "message" packets carrying Socket.IO events of the main namespace.
        for n in range(5):
            session.write(f'42["n",{n}]')
        assert got.empty()  # nothing leaves inside write(): at the end of the loop step
        assert [await within(got.get()) for _ in range(5)] == [0, 1, 2, 3, 4]
