"""What a new user trips on: habits from Node and python-socketio that went wrong quietly.

A connection handler that refuses (too late: the client is connected), a python-socketio
``connect(sid, environ, auth)``, a namespace-level handler waiting for client events, an
answer that cannot be encoded, and NaN/Infinity (null, as Node's JSON.stringify writes).
Every test runs a real server and our client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

import aiosio
from aiosio.exceptions import AckTimeout, ConnectionError, ConnectionRefused
from tests.support.servers import running

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 10) -> T:
    async with asyncio.timeout(seconds):
        return await pending


def aiosio_records(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[Any]:
    return [r for r in caplog.records if r.name.startswith("aiosio") and r.levelno >= level]


# -- 1. refusing in a connection handler ----------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_connection_handler_refusing_disconnects_and_warns_once(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    io = aiosio.Server()
    server_reasons: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def record(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason: server_reasons.put_nowait(reason))

    if kind == "sync":

        def refuse(socket: aiosio.Socket) -> None:
            raise ConnectionRefused("too late")

    else:

        async def refuse(socket: aiosio.Socket) -> None:  # type: ignore[misc]
            await asyncio.sleep(0)
            raise ConnectionRefused("too late")

    io.on("connection", refuse)
    caplog.set_level(logging.DEBUG, "aiosio")
    reasons: asyncio.Queue[str] = asyncio.Queue()
    async with running(io) as url:
        for _ in range(2):  # two clients refused, one warning
            client = aiosio.Client(url, force_new=True)
            client.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
            try:
                await within(client.connect())
                assert await within(reasons.get()) == "io server disconnect"
                assert await within(server_reasons.get()) == "server namespace disconnect"
                assert not client.connected
            finally:
                await client.disconnect()
    records = aiosio_records(caplog)  # WARNING and above: a traceback came as ERROR
    assert len(records) == 1, [r.getMessage() for r in records]
    (warning,) = records
    assert warning.levelno == logging.WARNING
    assert not warning.exc_info
    message = warning.getMessage()
    assert "ConnectionRefused" in message
    assert "already connected" in message
    assert "io.use(" in message


async def test_middleware_refusal_reaches_the_client_with_its_data() -> None:
    io = aiosio.Server()

    @io.use
    def refuse(socket: aiosio.Socket) -> None:
        raise ConnectionRefused("nope", {"a": 1})

    async with running(io) as url:
        client = aiosio.Client(url, force_new=True)
        errors: asyncio.Queue[ConnectionError] = asyncio.Queue()
        client.on("connect_error", errors.put_nowait)
        try:
            with pytest.raises(ConnectionError) as raised:
                await within(client.connect())
            error = await within(errors.get())
        finally:
            await client.disconnect()
    assert (raised.value.message, raised.value.data) == ("nope", {"a": 1})
    assert (error.message, error.data) == ("nope", {"a": 1})


# -- 2. python-socketio's connect(sid, environ, auth) -----------------------------------


def test_connection_handlers_needing_more_than_the_socket_are_refused() -> None:
    io = aiosio.Server()

    def handler(sid: str, environ: dict[str, Any]) -> None: ...

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None: ...

    fix = (
        "connection handlers take one argument, the socket "
        "(read socket.handshake for the headers and auth)"
    )
    with pytest.raises(TypeError, match=r"\(read socket\.handshake") as raised:
        io.on("connect", handler)
    assert fix in str(raised.value)
    with pytest.raises(TypeError, match="connection handlers take one argument"):
        io.on("connection")(handler)
    with pytest.raises(TypeError, match="connection handlers take one argument"):
        io.event(connect)
    with pytest.raises(TypeError, match="connection handlers take one argument"):
        io.of("/x").on("connection", connect)
    with pytest.raises(TypeError, match="connection handlers take one argument"):
        io.of("/x").on("connect")(handler)
    # Nothing was registered: a client connecting is not greeted by a broken handler.
    assert not io.sockets._handlers.get("connection")
    assert not io.of("/x")._handlers.get("connection")


async def test_connection_handlers_with_defaults_or_varargs_are_accepted() -> None:
    io = aiosio.Server()
    seen: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def with_default(socket: aiosio.Socket, extra: Any = "default") -> None:
        seen.put_nowait(("default", extra))

    def with_varargs(socket: aiosio.Socket, *rest: Any) -> None:
        seen.put_nowait(("varargs", rest))

    @io.event
    async def connect(*args: Any) -> None:
        seen.put_nowait(("event", len(args)))

    io.on("connect", with_default)
    io.of("/x").on("connection", with_varargs)
    async with running(io) as url:
        main = await within(aiosio.connect(url, force_new=True))
        other = await within(aiosio.connect(url + "/x", force_new=True))
        try:
            got = {await within(seen.get()) for _ in range(3)}
        finally:
            await main.disconnect()
            await other.disconnect()
    assert got == {("event", 1), ("default", "default"), ("varargs", ())}


# -- 3. a namespace-level handler of a client event -------------------------------------


async def test_client_event_only_a_namespace_handler_listens_to_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()

    @io.on("chat")
    def chat(*args: Any) -> str:
        return "never"  # namespace-level: server_side_emit only

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("ping", lambda: "pong")

    caplog.set_level(logging.WARNING, "aiosio")
    async with running(io) as url:
        client = await within(aiosio.connect(url, force_new=True))
        try:
            client.emit("chat", "hello")
            with pytest.raises(AckTimeout):
                await client.emit_with_ack("chat", "again", timeout=0.3)
            client.emit("unknown")  # no handler anywhere: nothing to say
            # Packets are handled in order: once this answers, the chats were handled.
            assert await within(client.emit_with_ack("ping")) == "pong"
        finally:
            await client.disconnect()
    records = aiosio_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert "'chat'" in message
    assert "server_side_emit" in message
    assert "socket.on(" in message
    assert not records[0].exc_info


async def test_client_event_a_catch_all_hears_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()
    heard: asyncio.Queue[str] = asyncio.Queue()
    io.on("chat", lambda *args: None)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on_any(lambda event, *args: heard.put_nowait(event))

    caplog.set_level(logging.WARNING, "aiosio")
    async with running(io) as url:
        client = await within(aiosio.connect(url, force_new=True))
        try:
            client.emit("chat", "hello")
            assert await within(heard.get()) == "chat"
        finally:
            await client.disconnect()
    assert aiosio_records(caplog) == []


# -- 4. an answer that cannot be encoded --------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async", "ack"])
async def test_unencodable_answer_logs_one_line_and_sends_nothing(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    io = aiosio.Server()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        if kind == "sync":
            socket.on("bad", lambda: {1, 2})
        elif kind == "async":

            async def bad() -> set[int]:
                await asyncio.sleep(0)
                return {1, 2}

            socket.on("bad", bad)
        else:

            def bad_ack(*, ack: Any) -> None:
                ack("fine", {1, 2})

            socket.on("bad", bad_ack)
        socket.on("good", lambda value: value * 2)

    caplog.set_level(logging.DEBUG, "aiosio.socket")
    async with running(io) as url:
        client = await within(aiosio.connect(url, force_new=True))
        try:
            with pytest.raises(AckTimeout):
                await client.emit_with_ack("bad", timeout=0.3)
            assert await within(client.emit_with_ack("good", 21)) == 42
        finally:
            await client.disconnect()
    records = aiosio_records(caplog, logging.DEBUG)
    assert len(records) == 1, [r.getMessage() for r in records]
    (record,) = records
    assert not record.exc_info  # one line, no traceback
    message = record.getMessage()
    assert "cannot answer the ack of event 'bad'" in message
    assert "set is not JSON-serialisable" in message


# -- 5. NaN and Infinity -------------------------------------------------------------------


async def test_nan_and_infinity_arrive_as_null() -> None:
    io = aiosio.Server()
    nan, inf = float("nan"), float("inf")

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("floats", lambda: (nan, inf, -inf))
        socket.on("send", lambda: socket.emit("floats", nan, inf, {"x": [nan]}))

    async with running(io) as url:
        client = await within(aiosio.connect(url, force_new=True))
        received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on("floats", lambda *args: received.put_nowait(args))
        try:
            assert await within(client.emit_with_ack("floats")) == (None, None, None)
            client.emit("send")
            assert await within(received.get()) == (None, None, {"x": [None]})
        finally:
            await client.disconnect()
