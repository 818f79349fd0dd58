"""aiosio.server.connection: one Engine.IO connection seen by Socket.IO (several
namespaces on it, the CONNECT of each, the connect timeout), with clients in memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
import aiosio.metrics
import aiosio.testing
from aiosio.exceptions import ConnectionError
from tests.support.waits import within


def closed_sessions(io: aiosio.Server) -> dict[str, int]:
    """Engine.IO sessions closed so far, by reason, as the metrics page reports them."""
    prefix = 'aiosio_engine_sessions_closed_total{reason="'
    found = {}
    for line in aiosio.metrics.render(io).splitlines():
        if line.startswith(prefix):
            labels, value = line[len(prefix) :].rsplit(" ", 1)
            found[labels.removesuffix('"}')] = int(value)
    return found


def who_server(io: aiosio.Server, *names: str) -> asyncio.Queue[aiosio.Socket]:
    """Each namespace answers ``who`` with its name; the queue gets every new socket."""
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    for name in names:

        @io.of(name).on("connection")
        def on_connection(socket: aiosio.Socket) -> None:
            socket.on("who", lambda: socket.namespace)
            sockets.put_nowait(socket)

    return sockets


# -- several namespaces on one connection ---------------------------------------------------


async def test_namespaces_share_one_connection_and_are_separate_sockets() -> None:
    io = aiosio.Server()
    sockets = who_server(io, "/", "/admin", "/chat")
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect())
        admin = main.io.socket("/admin")
        chat = main.io.socket("/chat")
        await within(admin.connect())
        await within(chat.connect())
        on_server = {s.namespace: s for s in [await within(sockets.get()) for _ in range(3)]}
        assert len(io.engine.sessions) == 1  # one Engine.IO session for the three

        assert await within(main.emit_with_ack("who", timeout=1)) == "/"
        assert await within(admin.emit_with_ack("who", timeout=1)) == "/admin"
        assert await within(chat.emit_with_ack("who", timeout=1)) == "/chat"
        assert len({main.id, admin.id, chat.id}) == 3
        for client in (main, admin, chat):
            assert on_server[client.namespace].id == client.id
        # One connection, so one handshake (the auth is per namespace).
        handshakes = [socket.handshake for socket in on_server.values()]
        assert len({h.issued for h in handshakes}) == 1
        assert len({h.url for h in handshakes}) == 1

        # Leaving one namespace leaves the others (and the connection) alone.
        reasons: asyncio.Queue[str] = asyncio.Queue()
        on_server["/admin"].on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        await admin.disconnect()
        assert await within(reasons.get()) == "client namespace disconnect"
        assert await within(chat.emit_with_ack("who", timeout=1)) == "/chat"
        assert on_server["/"].connected and on_server["/chat"].connected
        assert len(io.engine.sessions) == 1

        # The namespace can be joined again on the same connection.
        await within(admin.connect())
        assert (await within(sockets.get())).namespace == "/admin"
        assert await within(admin.emit_with_ack("who", timeout=1)) == "/admin"


async def test_closing_one_socket_with_close_ends_every_namespace() -> None:
    io = aiosio.Server()
    sockets = who_server(io, "/", "/admin")
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect())
        admin = main.io.socket("/admin")
        await within(admin.connect())
        on_server = [await within(sockets.get()) for _ in range(2)]
        server_reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        client_reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for socket in on_server:
            socket.on(
                "disconnect",
                lambda reason, *_, name=socket.namespace: server_reasons.put_nowait((name, reason)),
            )
        for client in (main, admin):
            client.on(
                "disconnect",
                lambda reason, *_, name=client.namespace: client_reasons.put_nowait((name, reason)),
            )
        on_server[0].disconnect(close=True)
        assert {await within(server_reasons.get()) for _ in range(2)} == {
            ("/", "server namespace disconnect"),
            ("/admin", "server namespace disconnect"),
        }
        assert {await within(client_reasons.get()) for _ in range(2)} == {
            ("/", "io server disconnect"),
            ("/admin", "io server disconnect"),
        }
        assert io.engine.sessions == {}
        assert closed_sessions(io) == {"forced server close": 1}


async def test_the_client_closing_the_connection_disconnects_every_namespace() -> None:
    io = aiosio.Server()
    sockets = who_server(io, "/", "/admin")
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect())
        admin = main.io.socket("/admin")
        await within(admin.connect())
        reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for _ in range(2):
            socket = await within(sockets.get())
            socket.on(
                "disconnect",
                lambda reason, *_, name=socket.namespace: reasons.put_nowait((name, reason)),
            )
        await main.io.disconnect()  # the whole connection, not one namespace
        assert {await within(reasons.get()) for _ in range(2)} == {
            ("/", "transport close"),
            ("/admin", "transport close"),
        }
        assert io.engine.sessions == {}


# -- CONNECT -------------------------------------------------------------------------------------


async def test_connect_to_an_unknown_namespace_is_refused_and_the_connection_stays() -> None:
    io = aiosio.Server()
    who_server(io, "/")
    async with aiosio.testing.serve(io) as served:
        with pytest.raises(ConnectionError) as info:
            await within(served.connect("/unknown"))
        assert (info.value.message, info.value.data) == ("Invalid namespace", None)

        main = await within(served.connect())
        errors: asyncio.Queue[ConnectionError] = asyncio.Queue()
        unknown = main.io.socket("/nope")
        unknown.on("connect_error", errors.put_nowait)
        with pytest.raises(ConnectionError, match=r"^Invalid namespace$"):
            await within(unknown.connect())
        assert (await within(errors.get())).message == "Invalid namespace"
        assert main.connected
        assert await within(main.emit_with_ack("who", timeout=1)) == "/"
        assert "/nope" not in io.namespaces and "/unknown" not in io.namespaces


async def test_too_many_namespaces_on_one_connection() -> None:
    io = aiosio.Server(max_namespaces=2)
    who_server(io, "/", "/a", "/b")
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect())
        a = main.io.socket("/a")
        await within(a.connect())
        b = main.io.socket("/b")
        with pytest.raises(ConnectionError, match=r"^Too many namespaces$"):
            await within(b.connect())
        assert main.connected and a.connected
        await a.disconnect()
        await within(b.connect())  # a slot is free again
        assert await within(b.emit_with_ack("who", timeout=1)) == "/b"
        # Another connection has slots of its own.
        other = await within(served.connect("/a"))
        assert other.connected


async def test_auth_is_per_namespace_on_one_connection() -> None:
    io = aiosio.Server()
    sockets = who_server(io, "/", "/admin")
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect(auth={"who": "main"}))
        admin = main.io.socket("/admin", auth={"who": "admin"})
        await within(admin.connect())
        auths = {}
        for _ in range(2):
            socket = await within(sockets.get())
            auths[socket.namespace] = socket.handshake.auth
        assert auths == {"/": {"who": "main"}, "/admin": {"who": "admin"}}


async def test_a_connection_without_connect_is_closed_after_connect_timeout() -> None:
    io = aiosio.Server(connect_timeout=0.02)
    who_server(io, "/")
    calls: list[str] = []
    stalled: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def auth() -> dict[str, Any]:
        if not calls:
            calls.append("stalled")
            return await stalled  # the first connection never sends its CONNECT
        return {"attempt": 2}

    try:
        async with aiosio.testing.serve(io) as served:
            # The server closes the first connection ("forced close") since no namespace
            # was joined in time; the client reconnects and connects this time.
            client = await within(served.connect(auth=auth))
            assert client.connected and calls == ["stalled"]
            assert closed_sessions(io) == {"forced close": 1}
            assert await within(client.emit_with_ack("who", timeout=1)) == "/"
            assert len(io.engine.sessions) == 1
    finally:
        stalled.cancel()
