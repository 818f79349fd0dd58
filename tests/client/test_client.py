"""Client against aiosio.Server and the official Node server: events, acks, namespaces.

Each test runs against both servers (the ``server`` fixture); the transport tests also
run over polling only, WebSocket only, and polling upgraded to WebSocket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio.client import Client
from aiosio.exceptions import AckTimeout, ConnectionError, LocalProtocolError
from tests.client.client_support import RunningServer, StartServer
from tests.support.recorders import EventRecorder as Recorder

MODES = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}
BINARY_ARGS: list[Any] = [b"", b"\x00\x01\xff", {"nested": [b"deep", {"x": b"er"}]}, "text"]


async def connected(url: str, **options: Any) -> Client:
    options.setdefault("force_new", True)
    return await aiosio.connect(url, **options)


@pytest.mark.parametrize("mode", MODES)
async def test_echo_and_binary_over_each_transport(server: RunningServer, mode: str) -> None:
    client = Client(server.url, transports=MODES[mode], force_new=True)
    upgraded = Recorder(client.io, "upgrade")
    await client.connect()
    try:
        if mode == "upgrade":
            assert await upgraded.wait("upgrade") == ("websocket",)
        assert client.transport == MODES[mode][-1]
        assert await client.emit_with_ack("transport") == MODES[mode][-1]
        assert await client.emit_with_ack("echo", 1, "héllo ☃", None) == (1, "héllo ☃", None)
        assert await client.emit_with_ack("echo", *BINARY_ARGS) == tuple(BINARY_ARGS)
        assert await client.emit_with_ack("echo") is None
    finally:
        await client.disconnect()


async def test_emit_with_callback_and_timeout_flag(server: RunningServer) -> None:
    client = await connected(server.url)
    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    client.emit("echo", 1, [2], callback=lambda *args: answers.put_nowait(args))
    assert await answers.get() == (1, [2])
    client.timeout(5).emit("echo", "x", callback=lambda *args: answers.put_nowait(args))
    assert await answers.get() == (None, "x")  # with a timeout, callbacks are error-first
    assert await client.timeout(5).emit_with_ack("echo", "y") == "y"
    await client.disconnect()


async def test_ack_timeout(server: RunningServer) -> None:
    client = await connected(server.url)
    with pytest.raises(AckTimeout):
        await client.emit_with_ack("nobody-acks-this", timeout=0.2)
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.timeout(0.2).emit("nobody-acks-this", callback=lambda error: errors.put_nowait(error))
    assert isinstance(await errors.get(), AckTimeout)
    await client.disconnect()


async def test_server_emits_with_ack(server: RunningServer) -> None:
    client = await connected(server.url)

    @client.on("question")
    def question(a: int, b: int) -> int:
        return a + b

    @client.on("async-question")
    async def async_question(text: str) -> tuple[str, bytes]:
        await asyncio.sleep(0)
        return text.upper(), b"\x01"

    @client.on("manual")
    def manual(value: str, *, ack: Any) -> None:
        ack(value, "by hand")

    assert await client.emit_with_ack("ask", "question", 2, 3) == [5]
    assert await client.emit_with_ack("ask", "async-question", "hi") == ["HI", b"\x01"]
    assert await client.emit_with_ack("ask", "manual", "v") == ["v", "by hand"]
    await client.disconnect()


async def test_events_from_server_and_rooms(server: RunningServer) -> None:
    first = await connected(server.url)
    second = await connected(server.url)
    got = Recorder(first, "news", "blob")
    got_second = Recorder(second, "news")
    first.emit("emit-back", "blob", b"\x00" * 3, {"b": b"x"})
    assert await got.wait("blob") == (b"\x00" * 3, {"b": b"x"})
    await first.emit_with_ack("join", "room-1")
    await second.emit_with_ack("join", "room-1")
    second.emit("to-room", "room-1", "news", "hello", 1)
    assert await got.wait("news") == ("hello", 1)
    assert await got_second.wait("news") == ("hello", 1)
    await first.disconnect()
    await second.disconnect()


async def test_catch_all_listeners(server: RunningServer) -> None:
    client = await connected(server.url)
    incoming: list[tuple[Any, ...]] = []
    outgoing: list[tuple[Any, ...]] = []
    order: list[str] = []

    def any_in(event: str, *args: Any) -> None:
        incoming.append((event, *args))
        order.append("any")

    client.on_any(any_in)
    client.prepend_any(lambda event, *args: order.append("first"))
    client.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
    got = Recorder(client, "ping-back")
    client.emit("emit-back", "ping-back", 1)
    await got.wait("ping-back")
    assert incoming == [("ping-back", 1)]
    assert order == ["first", "any"]
    assert outgoing == [("emit-back", "ping-back", 1)]
    assert client.listeners_any()[-1] is any_in
    client.off_any(any_in)
    client.off_any_outgoing()
    assert client.listeners_any_outgoing() == []
    client.emit("emit-back", "ping-back", 2)
    await got.wait("ping-back", 2)
    assert incoming == [("ping-back", 1)]
    assert outgoing == [("emit-back", "ping-back", 1)]
    await client.disconnect()


async def test_once_off_and_event_decorator(server: RunningServer) -> None:
    client = await connected(server.url)
    calls: list[str] = []
    client.once("tick", lambda: calls.append("once"))

    @client.event
    def tick() -> None:
        calls.append("event")

    def removed() -> None:
        calls.append("removed")

    client.on("tick", removed)
    client.off("tick", removed)
    done = Recorder(client, "tick")
    client.emit("emit-back", "tick")
    client.emit("emit-back", "tick")
    await done.wait("tick", 2)
    assert calls == ["once", "event", "event"]
    assert client.listeners("tick")[0] is tick
    await client.disconnect()


async def test_reserved_and_invalid_emits_raise(server: RunningServer) -> None:
    client = await connected(server.url)
    for name in ("connect", "connect_error", "disconnect", "disconnecting"):
        with pytest.raises(LocalProtocolError):
            client.emit(name)
    with pytest.raises(LocalProtocolError):
        client.emit("echo", object())
    assert await client.emit_with_ack("echo", "still fine") == "still fine"
    await client.disconnect()


async def test_namespaces_share_one_engine_connection(server: RunningServer) -> None:
    root = Client(server.url)
    news = Client(server.url + "/news")
    admin = Client(server.url + "/admin")
    assert root.io is news.io is admin.io
    await asyncio.gather(root.connect(), news.connect(), admin.connect())
    sids = {await client.emit_with_ack("engine-id") for client in (root, news, admin)}
    assert len(sids) == 1
    assert len({root.id, news.id, admin.id}) == 3  # a socket id per namespace
    separate = Client(server.url + "/news", force_new=True)
    assert separate.io is not news.io
    await separate.connect()
    assert await separate.emit_with_ack("engine-id") not in sids
    again = Client(server.url + "/news")  # the shared manager has /news already
    assert again.io is not news.io
    await news.disconnect()
    assert root.io.engine is not None  # still used by the other namespaces
    await root.disconnect()
    await admin.disconnect()
    assert root.io.engine is None
    await separate.disconnect()


async def test_auth_query_and_headers(server: RunningServer) -> None:
    client = await connected(
        server.url + "?from=url",
        auth={"token": "abc"},
        query={"extra": "1"},
        extra_headers={"X-Test": "yes"},
    )
    handshake = await client.emit_with_ack("handshake")
    assert handshake["auth"] == {"token": "abc"}
    assert handshake["query"]["from"] == "url"
    assert handshake["query"]["extra"] == "1"
    assert handshake["query"]["EIO"] == "4"
    assert handshake["headers"]["x-test"] == "yes"
    await client.disconnect()


async def test_auth_function_sync_and_async(server: RunningServer) -> None:
    calls: list[str] = []

    async def token() -> dict[str, str]:
        calls.append("async")
        await asyncio.sleep(0)
        return {"token": "secret"}

    client = await connected(server.url + "/private", auth=token)
    assert calls == ["async"]
    assert (await client.emit_with_ack("handshake"))["auth"] == {"token": "secret"}
    await client.disconnect()
    client = await connected(server.url + "/private", auth=lambda: {"token": "secret"})
    assert client.connected
    await client.disconnect()


async def test_connect_error_carries_message_and_data(server: RunningServer) -> None:
    client = Client(server.url + "/private", force_new=True, auth={"token": "wrong"})
    errors = Recorder(client, "connect_error", "connect")
    with pytest.raises(ConnectionError) as info:
        await client.connect()
    assert info.value.message == "not authorized"
    assert info.value.data == {"code": 42}
    (error,) = await errors.wait("connect_error")
    assert error is info.value
    assert not client.active
    assert errors.names() == ["connect_error"]
    client.auth = {"token": "secret"}
    await client.connect()
    assert client.connected
    await client.disconnect()


async def test_unreachable_server_is_a_connect_error() -> None:
    client = Client("http://127.0.0.1:1", force_new=True)
    errors = Recorder(client, "connect_error")
    with pytest.raises(ConnectionError):
        await client.connect()
    assert len(errors.args("connect_error")) == 1
    assert not client.active


# In "upgrade" mode the server's disconnect comes while the client upgrades: the DISCONNECT
# must reach it over the new WebSocket, as the Node server sends it.
@pytest.mark.parametrize("mode", MODES)
async def test_disconnect_reasons_from_either_side(server: RunningServer, mode: str) -> None:
    client = await connected(server.url, transports=MODES[mode])
    events = Recorder(client, "disconnect")
    client.emit("disconnect-me")
    assert (await events.wait("disconnect"))[0] == "io server disconnect"
    assert not client.active  # no reconnection after a server-side disconnect
    assert client.io.engine is None  # the last namespace left: the connection closed

    client = await connected(server.url, transports=MODES[mode])
    events = Recorder(client, "disconnect")
    client.emit("close-me")
    assert (await events.wait("disconnect"))[0] == "io server disconnect"
    assert not client.active

    client = await connected(server.url)
    events = Recorder(client, "disconnect")
    await client.disconnect()
    assert events.args("disconnect") == [("io client disconnect", None)]
    assert client.id is None


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_transport_loss_reasons(start_server: StartServer, mode: str) -> None:
    server = await start_server()  # of its own: stopped here
    client = await connected(server.url, transports=MODES[mode], reconnection=False)
    events = Recorder(client, "disconnect")
    await server.stop()
    reason, _error = await events.wait("disconnect")
    expected = (
        {"transport close"} if mode == "websocket" else {"transport close", "transport error"}
    )
    assert reason in expected
    assert client.active  # the manager would reconnect, were it allowed to
    assert not client.connected


async def test_offline_emits_are_buffered_and_volatile_ones_dropped(server: RunningServer) -> None:
    client = Client(server.url, force_new=True)
    seen: list[tuple[Any, ...]] = []
    client.on_any_outgoing(lambda *packet: seen.append(packet))
    answers: asyncio.Queue[Any] = asyncio.Queue()
    client.emit("echo", "buffered", callback=answers.put_nowait)
    client.volatile.emit("echo", "volatile", callback=answers.put_nowait)
    pending = asyncio.ensure_future(client.emit_with_ack("echo", "awaited"))
    await client.connect()
    assert await answers.get() == "buffered"
    assert await pending == "awaited"
    assert seen == [("echo", "buffered"), ("echo", "awaited")]
    assert answers.empty()
    await client.disconnect()


async def test_pending_acks_fail_on_disconnect(start_server: StartServer) -> None:
    server = await start_server()  # of its own: stopped here
    client = await connected(server.url, reconnection=False)
    pending = asyncio.ensure_future(client.emit_with_ack("nobody-acks-this"))
    await client.emit_with_ack("echo")  # the first emit is on the wire
    await server.stop()
    with pytest.raises(aiosio.Disconnected):
        await pending


async def test_connect_helper_uses_the_url_path_as_namespace(server: RunningServer) -> None:
    client = await aiosio.connect(server.url + "/news", force_new=True)
    assert client.namespace == "/news"
    assert client.connected and client.active and not client.recovered
    assert isinstance(client.id, str)
    await client.disconnect()
    assert not client.connected and not client.active


async def test_connection_state_recovery(start_server: StartServer) -> None:
    server = await start_server(recovery=True)
    client = await connected(server.url, transports=["websocket"])
    other = await connected(server.url)
    ticks = Recorder(client, "tick")
    await client.emit_with_ack("join", "room")
    other.emit("to-room", "room", "tick", 1)
    value, offset = await ticks.wait("tick")  # the server appends the offset
    assert value == 1 and isinstance(offset, str)
    first_id = client.id

    client.io.reconnection = False  # reconnect by hand, once the server has news for us
    engine = client.io.engine
    assert engine is not None
    engine.abort()  # the connection drops, as a network failure would
    client.io.on_close("transport close", None)
    for value in (2, 3):
        other.emit("to-room", "room", "tick", value)
    await other.emit_with_ack("echo")  # the server handled the emits above
    await client.connect()
    assert client.recovered
    assert client.id == first_id
    await ticks.wait("tick", 3)
    assert [args[0] for args in ticks.args("tick")] == [1, 2, 3]
    await client.disconnect()
    await other.disconnect()


@pytest.mark.parametrize("mode", MODES)
async def test_msgpack_parser(start_server: StartServer, mode: str) -> None:
    # socket.io-msgpack-parser on both sides (the Node server uses the official one).
    server = await start_server(parser="msgpack")
    client = Client(server.url, transports=MODES[mode], force_new=True, parser="msgpack")
    await client.connect()
    try:
        assert await client.emit_with_ack("echo", 1, "héllo", None) == (1, "héllo", None)
        assert await client.emit_with_ack("echo", *BINARY_ARGS) == tuple(BINARY_ARGS)

        @client.on("question")
        def question(a: int, blob: bytes) -> tuple[int, bytes]:
            return a + 1, blob[::-1]

        answer = await client.emit_with_ack("ask", "question", 41, b"\x01\x02")
        assert answer == [42, b"\x02\x01"]
    finally:
        await client.disconnect()


async def test_a_stale_async_auth_does_not_connect_on_the_next_connection() -> None:
    import aiosio.testing

    io = aiosio.Server()
    io.on("connection", lambda socket: socket.on("ping", lambda: "pong"))
    closed: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()
    calls = 0

    async def auth() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the connection is lost while this one is pending
            for session in list(io.engine.sessions.values()):
                session.ws.cut()  # type: ignore[union-attr]
            await release.wait()
            return {"attempt": 1}
        return {"attempt": calls}

    async with aiosio.testing.serve(io) as served:
        client = await asyncio.wait_for(served.connect(auth=auth), 2)
        (socket,) = io.sockets.sockets.values()
        assert socket.handshake.auth == {"attempt": 2}
        socket.on("disconnect", lambda reason, *_: closed.put_nowait(reason))
        release.set()  # the stale auth answers now
        assert await asyncio.wait_for(client.emit_with_ack("ping", timeout=1), 2) == "pong"
        assert await asyncio.wait_for(client.emit_with_ack("ping", timeout=1), 2) == "pong"
        assert client.connected and socket.connected and closed.empty()
