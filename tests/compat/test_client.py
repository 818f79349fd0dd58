"""compat.AsyncClient (on aiosio's client) against python-socketio's server under
uvicorn and against compat.AsyncServer on aiosio's standalone front door."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import socketio as psio
from aiosio import compat as socketio
from aiosio.compat.client import connect_options
from tests.support.servers import start_uvicorn


def handlers(sio: Any) -> Any:
    """The same server handlers for python-socketio's server and ours."""

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        return auth != {"refuse": True}

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        await sio.emit("echoed", data, to=sid)
        return data

    @sio.event
    async def ask(sid: str) -> Any:
        return await sio.call("question", "2+2", to=sid, timeout=5)

    @sio.event
    async def mystery(sid: str) -> None:
        await sio.emit("unhandled", ("x", 1), to=sid)

    @sio.event
    async def kick(sid: str) -> None:
        await sio.disconnect(sid)

    @sio.on("echo", namespace="/chat")
    async def chat_echo(sid: str, data: Any) -> Any:
        return ["chat", data]

    return sio


@asynccontextmanager
async def server(kind: str) -> AsyncIterator[str]:
    if kind == "python-socketio":
        sio = handlers(psio.AsyncServer(async_mode="asgi"))
        port, stop = await start_uvicorn(psio.ASGIApp(sio), log_level="error")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await stop()
        return
    ours = handlers(socketio.AsyncServer())
    port = await ours.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await ours.shutdown()


@pytest.mark.parametrize("kind", ["python-socketio", "compat"])
async def test_client_api(kind: str) -> None:
    async with server(kind) as url:
        client = socketio.AsyncClient(reconnection=False)
        echoed: asyncio.Queue[Any] = asyncio.Queue()
        unhandled: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        reasons: asyncio.Queue[str] = asyncio.Queue()
        connected: list[str] = []
        client.on("echoed", echoed.put_nowait)
        client.on("question", lambda question: 4)
        client.on("*", lambda event, *args: unhandled.put_nowait((event, *args)))

        @client.event
        def connect() -> None:
            connected.append("/")

        @client.event
        def disconnect(reason: str) -> None:
            reasons.put_nowait(reason)

        @client.on("echoed", namespace="/chat")
        def chat_echoed(data: Any) -> None:
            pass

        await client.connect(url, namespaces=["/", "/chat"], wait_timeout=5)
        assert connected == ["/"]
        assert client.connected and client.sid == client.get_sid("/")
        assert set(client.namespaces) == {"/", "/chat"}
        assert client.transport() in ("polling", "websocket")
        assert await client.call("echo", {"a": 1}, timeout=5) == {"a": 1}
        assert await asyncio.wait_for(echoed.get(), 5) == {"a": 1}
        assert await client.call("echo", "c", namespace="/chat", timeout=5) == ["chat", "c"]
        assert await client.call("ask", timeout=5) == 4
        await client.emit("mystery")
        assert await asyncio.wait_for(unhandled.get(), 5) == ("unhandled", "x", 1)
        answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await client.emit("echo", "cb", callback=answered.set_result)
        assert await asyncio.wait_for(answered, 5) == "cb"
        with pytest.raises(socketio.BadNamespaceError):
            await client.emit("echo", 1, namespace="/nowhere")
        with pytest.raises(socketio.ConnectionError, match="Already connected"):
            await client.connect(url)
        await client.emit("kick")
        await asyncio.wait_for(reasons.get(), 5)
        await client.disconnect()
        await asyncio.wait_for(client.wait(), 5)


@pytest.mark.parametrize("kind", ["python-socketio", "compat"])
async def test_refused_and_timed_out(kind: str) -> None:
    async with server(kind) as url:
        client = socketio.AsyncClient(reconnection=False)
        errors: list[Any] = []
        client.on("connect_error", errors.append)
        with pytest.raises(socketio.ConnectionError):
            await client.connect(url, auth={"refuse": True}, wait_timeout=5)
        assert errors and "rejected" in str(errors[0])
        await client.connect(url, wait_timeout=5)
        with pytest.raises(socketio.TimeoutError):
            await client.call("nobody-answers-this", timeout=0.2)
        await client.disconnect()


def test_bad_options() -> None:
    with pytest.raises(ValueError):
        socketio.AsyncClient(serializer="pickle")
    with pytest.raises(ValueError):
        socketio.AsyncClient(json=object())


@pytest.mark.parametrize(
    ("path", "headers", "transports", "expected"),
    [
        pytest.param("socket.io", None, None, {"path": "/socket.io"}, id="defaults"),
        pytest.param("/io/", {}, "", {"path": "/io"}, id="empty-headers-and-transports"),
        pytest.param(
            "io",
            {"X-A": "1"},
            "websocket",
            {"path": "/io", "extra_headers": {"X-A": "1"}, "transports": ("websocket",)},
            id="one-transport-as-a-string",
        ),
        pytest.param(
            "io",
            None,
            ["polling", "websocket"],
            {"path": "/io", "transports": ("polling", "websocket")},
            id="transports-as-a-list",
        ),
    ],
)
def test_connect_options_map_the_arguments_onto_the_native_client(
    path: str, headers: dict[str, str] | None, transports: Any, expected: dict[str, Any]
) -> None:
    base = {"reconnection": False}
    assert connect_options(base, path, headers, transports) == {**expected, **base}
