"""compat.AsyncServer against python-socketio's own clients (AsyncClient, Client,
SimpleClient) on both of aiosio's front doors, and its options and registration.

(The official client drives it in test_transcripts.py, on both front doors too.)
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import aiosio.testing
import socketio as psio
from aiosio import compat as socketio
from aiosio._handlers import HandlerSpec
from tests.support.servers import start_uvicorn


def make_server(**options: Any) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(**options)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool | None:
        if auth == {"refuse": True}:
            return False
        await sio.save_session(sid, {"agent": environ.get("HTTP_USER_AGENT", "")[:6]})
        return None

    @sio.event
    async def echo(sid: str, *args: Any) -> Any:
        await sio.emit("echoed", list(args), to=sid)
        return args  # a tuple: several ack arguments

    @sio.event
    async def whoami(sid: str) -> Any:
        session = await sio.get_session(sid)
        return {"sid": sid, "agent": session["agent"], "transport": sio.transport(sid)}

    @sio.event
    async def ask(sid: str, question: str) -> Any:
        return await sio.call("question", question, to=sid, timeout=5)

    return sio


@asynccontextmanager
async def served(sio: socketio.AsyncServer, front_door: str) -> AsyncIterator[str]:
    if front_door == "standalone":
        port = await sio.start("127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await sio.shutdown()
        return
    port, stop = await start_uvicorn(socketio.ASGIApp(sio), log_level="error")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop()


FRONT_DOORS = pytest.mark.parametrize("front_door", ["asgi", "standalone"])


@FRONT_DOORS
async def test_python_socketio_async_client(front_door: str) -> None:
    sio = make_server()
    async with served(sio, front_door) as url:
        client = psio.AsyncClient(reconnection=False)
        echoed: asyncio.Queue[Any] = asyncio.Queue()
        client.on("echoed", echoed.put_nowait)
        client.on("question", lambda question: question.upper())
        await client.connect(url, wait_timeout=5)
        try:
            assert await client.call("echo", ("a", 1), timeout=5) == ("a", 1)
            assert await asyncio.wait_for(echoed.get(), 5) == ["a", 1]
            assert await client.call("echo", "x", timeout=5) == "x"
            assert await asyncio.wait_for(echoed.get(), 5) == ["x"]
            me = await client.call("whoami", timeout=5)
            assert me["sid"] == client.get_sid("/")
            assert me["agent"] == "Python"
            assert me["transport"] == client.transport()
            assert await client.call("ask", "ok?", timeout=5) == "OK?"
        finally:
            await client.disconnect()
        refused = psio.AsyncClient(reconnection=False)
        with pytest.raises(psio.exceptions.ConnectionError):
            await refused.connect(url, auth={"refuse": True}, wait_timeout=5)
        await refused.disconnect()


def sync_session(url: str) -> list[Any]:
    """python-socketio's blocking Client, as a thread of its own runs it."""
    client = psio.Client(reconnection=False)
    seen: list[Any] = []
    got = threading.Event()

    @client.on("echoed")
    def echoed(args: Any) -> None:
        seen.append(["echoed", args])
        got.set()

    client.on("question", lambda question: question[::-1])
    client.connect(url, wait_timeout=5)
    try:
        answer = client.call("echo", (1, 2), timeout=5)
        assert got.wait(5)
        seen.append(answer)
        seen.append(client.call("ask", "abc", timeout=5))
        seen.append(client.call("whoami", timeout=5)["sid"] == client.get_sid())
    finally:
        client.disconnect()
    return seen


def simple_session(url: str) -> list[Any]:
    with psio.SimpleClient() as client:
        client.connect(url, wait_timeout=5)
        client.emit("echo", "hi")
        event = client.receive(timeout=5)
        answer = client.call("echo", ("a", "b"), timeout=5)
    return [event, answer]


@FRONT_DOORS
async def test_python_socketio_sync_clients(front_door: str) -> None:
    async with served(make_server(), front_door) as url:
        seen = await asyncio.to_thread(sync_session, url)
        assert seen == [["echoed", [1, 2]], (1, 2), "cba", True]
        assert await asyncio.to_thread(simple_session, url) == [["echoed", ["hi"]], ("a", "b")]


async def test_options_map_onto_the_native_server() -> None:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=7,
        ping_timeout=3,
        max_http_buffer_size=1234,
        cors_allowed_origins=["http://a.example"],
        transports=["websocket"],
        serializer="msgpack",
    )
    engine = sio.io.engine
    assert (engine.ping_interval, engine.ping_timeout) == (7, 3)
    assert engine.max_http_buffer_size == 1234
    assert tuple(engine.transports) == ("websocket",)
    assert type(sio.io.parser).__name__ != type(socketio.AsyncServer().io.parser).__name__
    assert socketio.AsyncServer(ping_interval=(9, 5)).io.engine.ping_interval == 9


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"nonsense": 1}, TypeError),
        ({"async_mode": "eventlet"}, ValueError),
        ({"serializer": "pickle"}, ValueError),
        ({"json": object()}, ValueError),
    ],
)
def test_bad_options_are_refused_clearly(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        socketio.AsyncServer(**options)


def test_async_handlers_false_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aiosio.compat"):
        socketio.AsyncServer(async_handlers=False)
    assert "async_handlers=False is ignored" in caplog.text


async def test_always_connect_connects_first_and_refusal_disconnects() -> None:
    sio = socketio.AsyncServer(always_connect=True)
    connected: asyncio.Queue[str] = asyncio.Queue()

    @sio.event
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        connected.put_nowait(sid)
        return bool(auth)

    client = await aiosio.testing.connect(sio.io, auth={})
    gone = asyncio.get_running_loop().create_future()
    client.on("disconnect", lambda reason, *_: gone.set_result(reason))
    assert client.id == await connected.get()  # the client was told "connected" first
    assert await asyncio.wait_for(gone, 5) == "io server disconnect"
    await sio.shutdown()


async def test_every_namespace_with_namespaces_star() -> None:
    sio = socketio.AsyncServer(namespaces="*")

    @sio.on("where", namespace="/anything")
    def where(sid: str) -> str:
        return "anything"

    async with aiosio.testing.connect(sio.io, "/made-up") as client:
        assert client.connected
    async with aiosio.testing.connect(sio.io, "/anything") as client:
        assert await client.emit_with_ack("where", timeout=5) == "anything"
    await sio.shutdown()


async def test_handlers_registered_later_serve_later_connections() -> None:
    sio = socketio.AsyncServer()
    async with aiosio.testing.connect(sio.io):
        pass

    @sio.on("late")
    async def late(sid: str) -> str:
        return "heard"

    @sio.event(namespace="/other")
    def connect(sid: str, environ: dict[str, Any]) -> bool:
        return False

    async with aiosio.testing.connect(sio.io) as client:
        assert await client.emit_with_ack("late", timeout=5) == "heard"
    with pytest.raises(aiosio.ConnectionError, match="Connection rejected by server"):
        await aiosio.testing.connect(sio.io, "/other")
    await sio.shutdown()


async def test_disconnect_reason_and_session_in_the_disconnect_handler() -> None:
    sio = socketio.AsyncServer()
    ended: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.save_session(sid, {"name": "ada"})

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        ended.set_result((reason, (await sio.get_session(sid))["name"]))

    client = await aiosio.testing.connect(sio.io)
    await client.disconnect()
    assert await asyncio.wait_for(ended, 5) == (sio.reason.CLIENT_DISCONNECT, "ada")
    await sio.shutdown()


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_the_catch_all_listener_is_not_validated(kind: str) -> None:
    """python-socketio checks no annotation, so the native "*" listener behind a catch-all
    is a plain one: checked, it imported pydantic on the first connection (the event loop
    blocked meanwhile) and validated every event name it caught."""
    sio = socketio.AsyncServer()

    def anything(event: str, sid: str, *args: Any) -> str:
        return f"caught {event} {list(args)}"

    async def anything_async(event: str, sid: str, *args: Any) -> str:
        return anything(event, sid, *args)

    sio.on("*", anything if kind == "sync" else anything_async)
    async with aiosio.testing.connect(sio.io) as client:
        assert await client.emit_with_ack("unknown", 2, timeout=5) == "caught unknown [2]"
        (socket,) = sio.io.of("/").sockets.values()
        specs = socket._handlers["*"]
        assert specs and all(type(spec) is HandlerSpec for spec in specs)
    await sio.shutdown()


def test_instrument_opens_the_admin_namespace() -> None:
    sio = socketio.AsyncServer()
    sio.instrument(auth={"username": "admin", "password": "secret"}, read_only=True)
    assert "/admin" in sio.io.namespaces
    with pytest.raises(TypeError):
        socketio.AsyncServer().instrument(auth={"user": "x"})


def test_register_namespace_takes_instances_only() -> None:
    with pytest.raises(ValueError, match="AsyncNamespace"):
        socketio.AsyncServer().register_namespace(object())  # type: ignore[arg-type]


def test_a_second_path_after_use_is_refused() -> None:
    sio = socketio.AsyncServer()
    assert sio.io.router.path == "/socket.io/"
    with pytest.raises(RuntimeError, match="ASGIApp first"):
        socketio.ASGIApp(sio, socketio_path="other")
