"""aiosio.server.server: the Server's options, its main-namespace shortcuts, startup()
and close(), the namespace registry and the decorators, with clients in memory."""

from __future__ import annotations

import asyncio

import pytest

import aiosio
import aiosio.testing
from tests.support.waits import within

# -- options ---------------------------------------------------------------------------------


def test_default_options() -> None:
    io = aiosio.Server()
    assert io.connect_timeout == 45.0
    assert io.shutdown_timeout == 10.0
    assert io.max_attachments == 10
    assert io.max_depth == 64
    assert io.max_namespaces == 100
    assert io.cleanup_empty_child_namespaces is True
    assert io.parser.name == "json"
    assert io.recovery is None
    assert io.router.path == "/socket.io/"
    assert io.accepting is False  # not started
    assert set(io.namespaces) == {"/"}


def test_given_options_are_kept() -> None:
    io = aiosio.Server(
        connect_timeout=1.5,
        shutdown_timeout=2.5,
        max_attachments=3,
        max_depth=10,
        max_namespaces=7,
        cleanup_empty_child_namespaces=False,
        connection_state_recovery=True,
        path="/io/",
    )
    assert (io.connect_timeout, io.shutdown_timeout) == (1.5, 2.5)
    assert (io.max_attachments, io.max_depth, io.max_namespaces) == (3, 10, 7)
    assert io.cleanup_empty_child_namespaces is False
    assert io.recovery is not None
    assert io.router.path == "/io/"


def test_engine_options_reach_the_engine_with_their_defaults() -> None:
    engine = aiosio.Server().engine
    assert (engine.ping_interval, engine.ping_timeout, engine.upgrade_timeout) == (25, 20, 10)
    assert engine.max_http_buffer_size == 1_000_000
    assert engine.max_buffered_bytes == 4_000_000
    assert engine.max_buffered_packets == 1000
    assert engine.transports == ("polling", "websocket")
    assert engine.allow_upgrades is True
    assert (engine.cors_allowed_origins, engine.cors_credentials) == (None, True)
    assert (engine.allow_request, engine.cookie) == (None, None)
    assert engine.per_message_deflate is None
    assert engine.http_compression is not None
    engine = aiosio.Server(
        ping_interval=1.0,
        max_http_buffer_size=10,
        transports=["websocket"],
        cors_allowed_origins="https://a.example",
        cookie="sid",
        per_message_deflate={"threshold": 8},
        http_compression=False,
    ).engine
    assert (engine.ping_interval, engine.max_buffered_bytes) == (1.0, 40)
    assert engine.transports == ("websocket",)
    assert engine.cors_allowed_origins == ("https://a.example",)
    assert engine.cookie == "sid"
    assert engine.per_message_deflate is not None
    assert engine.per_message_deflate.threshold == 8
    assert engine.http_compression is None


def test_an_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="'ping_intervall'"):
        aiosio.Server(ping_intervall=1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize("depth", [0, 255, -1])
def test_max_depth_out_of_range_is_refused(depth: int) -> None:
    with pytest.raises(ValueError, match=f"^max_depth must be 1 to 254, not {depth}$"):
        aiosio.Server(max_depth=depth)


@pytest.mark.parametrize("depth", [1, 254])
def test_max_depth_limits_are_accepted(depth: int) -> None:
    assert aiosio.Server(max_depth=depth).max_depth == depth


async def test_a_custom_path_serves_clients() -> None:
    io = aiosio.Server(path="/custom/")
    io.on("connection", lambda socket: socket.on("url", lambda: socket.handshake.url))
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        assert (await within(client.emit_with_ack("url", timeout=1))).startswith("/custom/?")


# -- startup and close -----------------------------------------------------------------------------


async def test_startup_without_ports() -> None:
    io = aiosio.Server()
    assert not io.accepting
    assert await io.startup() is True
    assert io.accepting
    assert await io.startup() is False  # running already
    await io.close()
    assert not io.accepting
    assert await io.startup() is True  # again after a close
    assert io.accepting
    await io.close()
    await io.close()  # closing a closed server is fine
    await io.wait_closed()


async def test_close_disconnects_every_namespace_with_server_shutting_down() -> None:
    io = aiosio.Server()
    server_reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def watch(socket: aiosio.Socket) -> None:
        socket.on(
            "disconnect",
            lambda reason, *_: server_reasons.put_nowait((socket.namespace, reason)),
        )

    io.on("connection", watch)
    io.of("/news").on("connection", watch)
    await io.startup()
    client_reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    clients = [
        await within(aiosio.testing.connect(io, reconnection=False)),
        await within(aiosio.testing.connect(io, "/news", reconnection=False)),
    ]
    for client in clients:
        client.on(
            "disconnect",
            lambda reason, *_, name=client.namespace: client_reasons.put_nowait((name, reason)),
        )
    await within(io.close())
    assert {await within(server_reasons.get()) for _ in range(2)} == {
        ("/", "server shutting down"),
        ("/news", "server shutting down"),
    }
    assert {await within(client_reasons.get()) for _ in range(2)} == {
        ("/", "transport close"),
        ("/news", "transport close"),
    }
    assert not io.accepting
    assert io.engine.sessions == {}
    for client in clients:
        await client.disconnect()
    # aiosio.testing.connect() starts a closed server again (startup(), no port).
    async with aiosio.testing.connect(io) as again:
        assert again.connected and io.accepting
    await io.close()


async def test_a_closed_server_refuses_then_serves_again_after_startup() -> None:
    io = aiosio.Server()
    io.on("connection", lambda socket: socket.on("echo", lambda value: value))
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        assert await within(client.emit_with_ack("echo", 1, timeout=1)) == 1
    assert not io.accepting
    async with aiosio.testing.serve(io) as served:  # serve() starts it again
        client = await within(served.connect())
        assert await within(client.emit_with_ack("echo", 2, timeout=1)) == 2


async def test_concurrent_closes_share_one_close() -> None:
    io = aiosio.Server()
    reasons: list[str] = []
    io.on("connection", lambda socket: socket.on("disconnect", reasons.append))
    await io.startup()
    client = await within(aiosio.testing.connect(io, reconnection=False))
    await within(asyncio.gather(io.close(), io.close(), io.close()))
    assert reasons == ["server shutting down"]
    await client.disconnect()


# -- namespaces and decorators ---------------------------------------------------------------


def test_namespace_registry_and_new_namespace() -> None:
    io = aiosio.Server()
    created: list[aiosio.Namespace] = []
    io.on("new_namespace", created.append)
    news = io.of("/news")
    io.of("/news")  # already there: not new
    sport = io.of("sport")
    assert created == [news, sport]
    assert io.namespaces == {"/": io.sockets, "/news": news, "/sport": sport}
    assert io.sockets.name == "/"


async def test_event_decorator_names_the_event_after_the_function() -> None:
    io = aiosio.Server()
    order: list[str] = []

    @io.event
    def connection(socket: aiosio.Socket) -> None:
        order.append("connection")

    @io.event
    def connect(socket: aiosio.Socket) -> None:  # the alias
        order.append("connect")

    @io.on("connection")
    def decorated(socket: aiosio.Socket) -> None:
        order.append("on")

    assert connection.__name__ == "connection" and connect.__name__ == "connect"
    assert decorated.__name__ == "decorated"  # decorators return the function
    async with aiosio.testing.serve(io) as served:
        await within(served.connect())
        assert order == ["connection", "connect", "on"]


async def test_use_is_the_main_namespaces_middleware() -> None:
    io = aiosio.Server()
    seen: list[str] = []
    io.use(lambda socket: seen.append(socket.namespace))
    io.of("/news")
    async with aiosio.testing.serve(io) as served:
        await within(served.connect())
        await within(served.connect("/news"))
        assert seen == ["/"]


def test_a_server_with_the_memory_adapter_is_healthy() -> None:
    assert aiosio.Server().healthy is True
