"""aiosio.testing: a real server and real clients connected in memory, with no socket.

Every test waits on events (queues filled by handlers), never on sleeps, and each takes
milliseconds: the clients reconnect after 1 ms and nothing crosses a network.
"""

from __future__ import annotations

import asyncio
import socket as socket_module
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import ConnectionError, ConnectionRefused
from tests.support.waits import within


def collect(queue: asyncio.Queue[Any]) -> list[Any]:
    """What is in ``queue`` now."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def echo_server(**options: Any) -> tuple[aiosio.Server, asyncio.Queue[aiosio.Socket]]:
    """A server answering ``echo`` with its arguments; the queue gets each new socket."""
    io = aiosio.Server(**options)
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: args[0] if len(args) == 1 else args)
        sockets.put_nowait(socket)

    return io, sockets


# -- connecting, acknowledgements ---------------------------------------------------------


async def test_connect_and_acks_both_ways() -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io, "/", auth={"token": "x"}) as client:
        assert isinstance(client, aiosio.Client)
        assert client.connected and client.transport == "websocket"
        server_side = await within(sockets.get())
        assert server_side.id == client.id
        assert server_side.handshake.auth == {"token": "x"}
        # Client to server, and back.
        assert await client.emit_with_ack("echo", 1, timeout=1) == 1
        assert await client.emit_with_ack("echo", {"a": [1, 2]}, b"\x00\xff", timeout=1) == (
            {"a": [1, 2]},
            b"\x00\xff",
        )
        # Server to client, and back.
        client.on("double", lambda value: value * 2)
        assert await within(server_side.timeout(1).emit_with_ack("double", 21)) == 42
    assert not client.connected


async def test_handshake_carries_namespace_headers_and_query() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.of("/news").on("connection", sockets.put_nowait)
    async with aiosio.testing.connect(
        io, "news", headers={"X-Trace": "t1"}, query={"room": "sports"}
    ) as client:
        server_side = await within(sockets.get())
        assert client.namespace == "/news" and server_side.nsp.name == "/news"
        assert server_side.handshake.headers["x-trace"] == "t1"
        assert server_side.handshake.query["room"] == "sports"
        assert server_side.handshake.query["transport"] == "websocket"
        assert server_side.handshake.address == "127.0.0.1"


async def test_delivery_is_asynchronous_and_in_order() -> None:
    """Nothing runs inside the call that sent it, as over a network."""
    io = aiosio.Server()
    received: asyncio.Queue[int] = asyncio.Queue()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("n", received.put_nowait)
        sockets.put_nowait(socket)

    async with aiosio.testing.connect(io) as client:
        server_side = await within(sockets.get())
        for n in range(5):
            client.emit("n", n)
        assert received.empty()  # not delivered inside emit
        assert [await within(received.get()) for _ in range(5)] == [0, 1, 2, 3, 4]

        got: asyncio.Queue[int] = asyncio.Queue()
        client.on("m", got.put_nowait)
        for n in range(3):
            server_side.emit("m", n)
        assert got.empty()
        assert [await within(got.get()) for _ in range(3)] == [0, 1, 2]


# -- refusals -----------------------------------------------------------------------------


async def test_middleware_refusal_reaches_the_client() -> None:
    io = aiosio.Server()
    seen: list[Any] = []

    def refuse(socket: aiosio.Socket) -> None:
        seen.append(socket.handshake.auth)
        raise ConnectionRefused("nope", {"a": 1})

    io.of("/news").use(refuse)
    with pytest.raises(ConnectionError) as info:
        async with aiosio.testing.connect(io, "/news", auth={"token": "bad"}):
            pytest.fail("connected")
    assert info.value.message == "nope"
    assert info.value.data == {"a": 1}
    assert seen == [{"token": "bad"}]


async def test_connect_error_event_carries_message_and_data() -> None:
    io = aiosio.Server()

    def check(socket: aiosio.Socket) -> None:
        if socket.handshake.auth.get("token") != "good":
            raise ConnectionRefused("nope", {"a": 1})

    io.use(check)
    async with aiosio.testing.serve(io) as server:
        client = await within(server.connect(auth={"token": "good"}))
        errors: asyncio.Queue[ConnectionError] = asyncio.Queue()
        client.on("connect_error", errors.put_nowait)
        await client.disconnect()
        client.auth = {"token": "bad"}
        with pytest.raises(ConnectionError, match="nope"):
            await within(client.connect())
        error = await within(errors.get())
        assert (error.message, error.data) == ("nope", {"a": 1})


async def test_handshake_refusals_are_http_errors() -> None:
    io = aiosio.Server(allow_request=lambda request: request.headers.get("x-key") == "k")
    with pytest.raises(ConnectionError, match="expected status 101, got 403"):
        await within(aiosio.testing.connect(io, timeout=1))
    async with aiosio.testing.connect(io, headers={"X-Key": "k"}) as client:
        assert client.connected

    polling_only = aiosio.Server(transports=("polling",))
    with pytest.raises(ConnectionError, match="got 400"):
        await within(aiosio.testing.connect(polling_only))


# -- rooms and broadcasts -----------------------------------------------------------------


async def test_rooms_broadcast_and_except() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.join("r")
        socket.join(socket.handshake.auth["name"])

    inbox: dict[str, asyncio.Queue[Any]] = {"alice": asyncio.Queue(), "bob": asyncio.Queue()}
    async with aiosio.testing.serve(io) as server:
        for name in inbox:
            client = await within(server.connect(auth={"name": name}))
            client.on_any(lambda event, *args, name=name: inbox[name].put_nowait((event, *args)))
        alice, bob = server.clients

        io.to("r").emit("hello", 1)
        assert await within(inbox["alice"].get()) == ("hello", 1)
        assert await within(inbox["bob"].get()) == ("hello", 1)

        io.to("r").except_("alice").emit("only", "bob")
        io.except_("bob").emit("only", "alice")
        io.emit("end")  # everyone: what comes before it has come
        assert await within(inbox["alice"].get()) == ("only", "alice")
        assert await within(inbox["alice"].get()) == ("end",)
        assert await within(inbox["bob"].get()) == ("only", "bob")
        assert await within(inbox["bob"].get()) == ("end",)
        assert len(await io.fetch_sockets()) == 2
        assert collect(inbox["alice"]) == [] and collect(inbox["bob"]) == []
    assert not alice.connected and not bob.connected


async def test_broadcast_from_a_socket_skips_the_sender() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("shout", lambda text: socket.broadcast.emit("heard", text))

    heard: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    async with aiosio.testing.serve(io) as server:
        alice = await within(server.connect())
        bob = await within(server.connect())
        alice.on("heard", lambda text: heard.put_nowait(("alice", text)))
        bob.on("heard", lambda text: heard.put_nowait(("bob", text)))
        alice.emit("shout", "hi")
        assert await within(heard.get()) == ("bob", "hi")
        assert await within(alice.emit_with_ack("shout", "again", timeout=1)) is None
        assert await within(heard.get()) == ("bob", "again")
        assert heard.empty()


# -- disconnections -----------------------------------------------------------------------


async def test_server_disconnect_is_io_server_disconnect() -> None:
    io, sockets = echo_server()
    server_reasons: asyncio.Queue[str] = asyncio.Queue()
    async with aiosio.testing.connect(io) as client:
        reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        server_side = await within(sockets.get())
        server_side.on("disconnect", server_reasons.put_nowait)
        server_side.disconnect()
        assert await within(reasons.get()) == "io server disconnect"
        assert await within(server_reasons.get()) == "server namespace disconnect"
        assert not client.active  # no reconnection after a server disconnect


async def test_client_disconnect_is_client_namespace_disconnect() -> None:
    io, sockets = echo_server()
    server_reasons: asyncio.Queue[str] = asyncio.Queue()
    client = await within(aiosio.testing.connect(io))
    server_side = await within(sockets.get())
    server_side.on("disconnect", server_reasons.put_nowait)
    await client.disconnect()
    assert await within(server_reasons.get()) == "client namespace disconnect"
    assert io.engine.sessions == {}


async def test_server_close_is_transport_close_then_refused() -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io) as client:
        reasons: asyncio.Queue[str] = asyncio.Queue()
        errors: asyncio.Queue[BaseException] = asyncio.Queue()
        client.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        client.on("reconnect_error", errors.put_nowait)
        server_side = await within(sockets.get())
        server_reasons: asyncio.Queue[str] = asyncio.Queue()
        server_side.on("disconnect", server_reasons.put_nowait)
        await within(io.close())
        assert await within(server_reasons.get()) == "server shutting down"
        assert await within(reasons.get()) == "transport close"
        # Reconnection tries, and finds nobody listening.
        error = await within(errors.get())
        assert "not running" in str(error)
        assert not io.accepting


async def test_message_over_the_limit_closes_as_the_front_doors_do() -> None:
    io, sockets = echo_server(max_http_buffer_size=1000)
    async with aiosio.testing.connect(io, reconnection=False) as client:
        reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        server_side = await within(sockets.get())
        server_reasons: asyncio.Queue[str] = asyncio.Queue()
        server_side.on("disconnect", server_reasons.put_nowait)
        client.emit("echo", "x" * 2000)
        assert await within(server_reasons.get()) == "transport error"
        assert await within(reasons.get()) == "transport close"


# -- dropping and recovering ----------------------------------------------------------------


async def test_drop_then_connection_state_recovery() -> None:
    io = aiosio.Server(connection_state_recovery={"max_disconnection_duration": 60})
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    server_reasons: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        if not socket.recovered:
            socket.join("room")
        socket.on("disconnect", server_reasons.put_nowait)
        sockets.put_nowait(socket)

    async with aiosio.testing.connect(io) as client:
        news: asyncio.Queue[int] = asyncio.Queue()
        reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("news", lambda value, *offset: news.put_nowait(value))
        client.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        connects: asyncio.Queue[None] = asyncio.Queue()
        client.on("connect", lambda: connects.put_nowait(None))
        first = await within(sockets.get())
        assert not first.recovered and not client.recovered
        io.to("room").emit("news", 1)
        assert await within(news.get()) == 1

        aiosio.testing.drop(client)
        assert await within(reasons.get()) == "transport error"
        assert await within(server_reasons.get()) == "transport error"
        io.to("room").emit("news", 2)  # missed: nobody is connected
        io.to("room").emit("news", 3)

        again = await within(sockets.get())  # the client reconnected by itself
        assert again.recovered and again.id == first.id
        assert "room" in again.rooms
        await within(connects.get())  # the client's side of it, a moment later
        assert client.recovered and client.id == first.id
        assert [await within(news.get()) for _ in range(2)] == [2, 3]

        # Dropped from the server's side this time.
        aiosio.testing.drop(again)
        assert await within(reasons.get()) == "transport error"
        assert (await within(sockets.get())).recovered


async def test_drop_without_recovery_gives_a_new_socket() -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io) as client:
        first = await within(sockets.get())
        aiosio.testing.drop(client)
        aiosio.testing.drop(client)  # nothing left to cut: no-op
        second = await within(sockets.get())
        assert second.id != first.id and not second.recovered
        assert await within(client.emit_with_ack("echo", "back", timeout=1)) == "back"


async def test_drop_refuses_what_is_not_in_memory() -> None:
    client = aiosio.Client("http://127.0.0.1:9/", force_new=True)
    with pytest.raises(ValueError, match="not connected in memory"):
        aiosio.testing.drop(client)


# -- several clients, several namespaces ---------------------------------------------------


async def test_serve_closes_only_a_server_it_started() -> None:
    io, _ = echo_server()
    async with aiosio.testing.serve(io) as server:
        clients = [await within(server.connect()) for _ in range(3)]
        assert len({client.id for client in clients}) == 3
        assert len(io.engine.sessions) == 3
    assert not any(client.connected for client in clients)
    assert not io.accepting  # serve() started it, so it closed it

    assert await io.startup() is True  # started by us: serve() leaves it running
    async with aiosio.testing.serve(io) as server:
        await within(server.connect())
    assert io.accepting
    await io.close()


async def test_namespaces_share_one_in_memory_connection() -> None:
    io = aiosio.Server()
    io.of("/admin").on("connection", lambda socket: socket.on("who", lambda: "admin"))
    io.on("connection", lambda socket: socket.on("who", lambda: "main"))
    async with aiosio.testing.connect(io) as client:
        admin = client.io.socket("/admin")
        await within(admin.connect())
        assert len(io.engine.sessions) == 1
        assert await within(admin.emit_with_ack("who", timeout=1)) == "admin"
        assert await within(client.emit_with_ack("who", timeout=1)) == "main"
    assert not admin.connected


async def test_the_servers_parser_is_the_default() -> None:
    pytest.importorskip("msgpack")
    io, _ = echo_server(parser="msgpack")
    async with aiosio.testing.connect(io) as client:
        assert await within(client.emit_with_ack("echo", {"n": 1}, b"\x01", timeout=1)) == (
            {"n": 1},
            b"\x01",
        )


# -- no network -----------------------------------------------------------------------------


async def test_no_socket_is_ever_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("aiosio.testing opened a socket")

    for name in ("socket", "create_connection", "create_server", "getaddrinfo", "socketpair"):
        monkeypatch.setattr(socket_module, name, no_network)
    io, sockets = echo_server()
    async with aiosio.testing.serve(io) as server:
        alice = await within(server.connect())
        bob = await within(server.connect())
        assert await within(alice.emit_with_ack("echo", 1, timeout=1)) == 1
        assert await within(bob.emit_with_ack("echo", 2, timeout=1)) == 2
        aiosio.testing.drop(alice)
        await within(sockets.get())
        await within(sockets.get())
        await within(sockets.get())  # alice again
        assert await within(alice.emit_with_ack("echo", 3, timeout=1)) == 3


def test_a_server_left_running_serves_in_the_next_event_loop() -> None:
    """The test kit never closes a server it did not start in serve(): one left running
    when a test's loop ended must work in the next test's loop."""
    io, _ = echo_server()

    async def once(value: int) -> Any:
        async with aiosio.testing.connect(io) as client:
            return await within(client.emit_with_ack("echo", value, timeout=1))

    assert asyncio.run(once(1)) == 1
    assert io.accepting
    assert asyncio.run(once(2)) == 2
