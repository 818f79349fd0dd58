"""aiosio.server.socket: one client in one namespace, seen from the server.

Every test runs a real server and a real client connected in memory (aiosio.testing):
no socket, no port, no sleep. A test waits on queues filled by handlers, or on an ack
round trip (events are dispatched in arrival order, so once the answer to a later event
has come, the earlier events have been handled).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout, ConnectionRefused
from tests.support.servers import running
from tests.support.sockets import pair
from tests.support.waits import within


def drain(queue: asyncio.Queue[Any]) -> list[Any]:
    """What is in ``queue`` now."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def sync_handler(socket: aiosio.Socket) -> None:
    """``sync``: answers once every event sent before it was handled."""
    socket.on("sync", lambda: "synced")


async def synced(client: aiosio.Client) -> None:
    assert await within(client.emit_with_ack("sync", timeout=1)) == "synced"


# -- emitting -----------------------------------------------------------------------------


async def test_emit_and_send_reach_the_client_with_their_arguments() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on("news", lambda *args: got.put_nowait(("news", *args)))
        client.on("message", lambda *args: got.put_nowait(("message", *args)))
        socket.emit("news", 1, "two", {"three": [3, None, True]})
        socket.emit("news")
        socket.send("hello", 2)
        assert await within(got.get()) == ("news", 1, "two", {"three": [3, None, True]})
        assert await within(got.get()) == ("news",)
        assert await within(got.get()) == ("message", "hello", 2)


@pytest.mark.parametrize(
    "event",
    [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
    ],
)
async def test_reserved_event_names_cannot_be_emitted(event: str) -> None:
    io = aiosio.Server()
    async with pair(io) as (_, socket):
        with pytest.raises(ValueError, match="is a reserved event name"):
            socket.emit(event)
        with pytest.raises(ValueError, match="is a reserved event name"):
            await socket.emit_with_ack(event, timeout=1)
        with pytest.raises(ValueError, match="is a reserved event name"):
            socket.timeout(1).emit(event)


async def test_emit_with_callback_gets_the_answer_as_arguments() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        client.on("one", lambda value: value * 10)
        client.on("two", lambda value: (value, value + 1))
        client.on("none", lambda: None)
        answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        socket.emit("one", 2, callback=lambda *args: answers.put_nowait(args))
        socket.emit("two", 5, callback=lambda *args: answers.put_nowait(args))
        socket.emit("none", callback=lambda *args: answers.put_nowait(args))
        socket.send("x", callback=lambda *args: answers.put_nowait(("send", *args)))
        client.on("message", lambda text: text.upper())
        assert await within(answers.get()) == (20,)
        assert await within(answers.get()) == (5, 6)
        assert await within(answers.get()) == ()
        assert await within(answers.get()) == ("send", "X")


async def test_emit_with_ack_returns_none_one_value_or_a_tuple() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        client.on("none", lambda: None)
        client.on("one", lambda: [1, 2])
        client.on("many", lambda: (1, "b", None))

        @client.on("by_hand")
        def by_hand(value: int, *, ack: Any) -> None:
            ack(value, "done")
            ack("ignored: one answer per event")

        assert await within(socket.emit_with_ack("none", timeout=1)) is None
        assert await within(socket.emit_with_ack("one", timeout=1)) == [1, 2]
        assert await within(socket.emit_with_ack("many", timeout=1)) == (1, "b", None)
        assert await within(socket.emit_with_ack("by_hand", 7, timeout=1)) == (7, "done")
        assert await within(socket.emit_with_ack("one")) == [1, 2]  # no timeout at all


async def test_emit_with_ack_times_out_when_the_client_does_not_answer() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        heard: asyncio.Queue[str] = asyncio.Queue()
        client.on("silent", lambda *, ack: heard.put_nowait("silent"))  # never answers
        with pytest.raises(AckTimeout, match=r"^operation has timed out$"):
            await within(socket.emit_with_ack("silent", timeout=0.01))
        assert await within(heard.get()) == "silent"  # it was delivered, not answered
        with pytest.raises(AckTimeout):
            await within(socket.timeout(0.01).emit_with_ack("unhandled"))
        assert socket.connected  # a timeout does not disconnect


async def test_timeout_emitter_callbacks_are_error_first() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        client.on("double", lambda value: value * 2)
        calls: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        socket.timeout(1).emit("double", 4, callback=lambda *args: calls.put_nowait(args))
        assert await within(calls.get()) == (None, 8)
        socket.timeout(0.01).emit("unhandled", callback=lambda *args: calls.put_nowait(args))
        (error,) = await within(calls.get())
        assert isinstance(error, AckTimeout) and str(error) == "operation has timed out"
        assert await within(socket.timeout(1).emit_with_ack("double", 21)) == 42


async def test_client_emit_with_ack_both_ways_and_its_timeout() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("add", lambda a, b: a + b)
        socket.on("pair", lambda a, b: (b, a))
        socket.on("nothing", lambda: None)
        socket.on("never", lambda *, ack: None)

    async with pair(io) as (client, _):
        assert await within(client.emit_with_ack("add", 2, 3, timeout=1)) == 5
        assert await within(client.emit_with_ack("pair", "a", "b", timeout=1)) == ("b", "a")
        assert await within(client.emit_with_ack("nothing", timeout=1)) is None
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("never", timeout=0.01))
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("nobody_listens", timeout=0.01))


async def test_volatile_and_compress_flags_still_deliver_on_a_ready_transport() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.on("v", lambda *args: got.put_nowait(args))
        client.on("echo", lambda *args: args)
        socket.volatile.emit("v", "volatile")
        socket.compress(False).emit("v", "uncompressed", b"\x00\x01")
        socket.compress().volatile.emit("v", "both")
        assert await within(got.get()) == ("volatile",)
        assert await within(got.get()) == ("uncompressed", b"\x00\x01")
        assert await within(got.get()) == ("both",)
        answer = await within(socket.compress(False).timeout(1).emit_with_ack("echo", b"\xff", 1))
        assert answer == (b"\xff", 1)
        answer = await within(socket.volatile.timeout(1).emit_with_ack("echo", "v"))
        assert answer == "v"


async def test_binary_payloads_both_ways() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("reverse", lambda blob: blob[::-1])
        socket.on("nested", lambda value: {"got": value["blobs"], "n": len(value["blobs"])})

    async with pair(io) as (client, socket):
        payload = {"blob": b"\x00\x01\x02", "list": [b"a", 1, {"deep": b"\xff" * 10}]}
        got: asyncio.Queue[Any] = asyncio.Queue()
        client.on("bin", got.put_nowait)
        socket.emit("bin", payload)
        assert await within(got.get()) == payload

        assert await within(client.emit_with_ack("reverse", b"\x01\x02\x03", timeout=1)) == (
            b"\x03\x02\x01"
        )
        answer = await within(
            client.emit_with_ack("nested", {"blobs": [b"x", b"", b"z"]}, timeout=1)
        )
        assert answer == {"got": [b"x", b"", b"z"], "n": 3}

        client.on("bin_answer", lambda blob: (blob + b"!", {"b": b"\x00"}))
        assert await within(socket.emit_with_ack("bin_answer", b"ok", timeout=1)) == (
            b"ok!",
            {"b": b"\x00"},
        )


# -- listeners ----------------------------------------------------------------------------


async def test_on_once_off_and_listeners() -> None:
    io = aiosio.Server()
    io.on("connection", sync_handler)
    async with pair(io) as (client, socket):
        calls: list[tuple[str, Any]] = []

        def first(value: Any) -> str:
            calls.append(("first", value))
            return "first"

        def second(value: Any) -> str:
            calls.append(("second", value))
            return "second"

        socket.on("e", first)
        socket.on("e")(second)  # the decorator form
        socket.once("o", lambda value: calls.append(("once", value)))
        assert socket.listeners("e") == [first, second]

        # Both run; the first handler's return value is the answer.
        assert await within(client.emit_with_ack("e", 1, timeout=1)) == "first"
        client.emit("o", 1)
        client.emit("o", 2)  # once: not heard
        await synced(client)
        assert calls == [("first", 1), ("second", 1), ("once", 1)]
        assert socket.listeners("o") == []

        calls.clear()
        socket.off("e", first)
        assert socket.listeners("e") == [second]
        assert await within(client.emit_with_ack("e", 2, timeout=1)) == "second"
        socket.off("e")
        assert socket.listeners("e") == []
        client.emit("e", 3)
        await synced(client)
        assert calls == [("second", 2)]

        socket.off()
        assert socket.listeners("sync") == []
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("sync", timeout=0.01))


async def test_on_any_hears_every_incoming_event() -> None:
    io = aiosio.Server()
    io.on("connection", sync_handler)
    async with pair(io) as (client, socket):
        heard: list[tuple[Any, ...]] = []

        def catch_all(event: str, *args: Any) -> None:
            heard.append(("any", event, *args))

        def first(event: str, *args: Any) -> None:
            heard.append(("prepended", event))

        socket.on_any(catch_all)
        socket.prepend_any(first)
        assert socket.listeners_any() == [first, catch_all]
        client.emit("unhandled", 1, {"a": 2})
        await synced(client)
        assert heard == [
            ("prepended", "unhandled"),
            ("any", "unhandled", 1, {"a": 2}),
            ("prepended", "sync"),
            ("any", "sync"),
        ]
        heard.clear()
        socket.off_any(first)
        assert socket.listeners_any() == [catch_all]
        await synced(client)
        assert heard == [("any", "sync")]
        heard.clear()
        socket.off_any()
        await synced(client)
        assert heard == [] and socket.listeners_any() == []


async def test_on_any_outgoing_hears_emits_and_broadcasts() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        sent: list[tuple[Any, ...]] = []

        def outgoing(event: str, *args: Any) -> None:
            sent.append((event, *args))

        def first(event: str, *args: Any) -> None:
            sent.append(("first", event))

        socket.on_any_outgoing(outgoing)
        socket.prepend_any_outgoing(first)
        assert socket.listeners_any_outgoing() == [first, outgoing]
        got: asyncio.Queue[str] = asyncio.Queue()
        client.on_any(lambda event, *args: got.put_nowait(event))
        client.on("ask", lambda: "answer")

        socket.emit("direct", 1)
        io.emit("broadcast", 2)  # through the namespace: encoded once, heard per socket
        assert await within(socket.emit_with_ack("ask", timeout=1)) == "answer"
        assert [await within(got.get()) for _ in range(3)] == ["direct", "broadcast", "ask"]
        assert sent == [
            ("first", "direct"),
            ("direct", 1),
            ("first", "broadcast"),
            ("broadcast", 2),
            ("first", "ask"),
            ("ask",),
        ]
        sent.clear()
        socket.off_any_outgoing(first)
        socket.emit("again")
        assert sent == [("again",)]  # heard synchronously, when emitted
        socket.off_any_outgoing()
        socket.emit("unheard")
        assert sent == [("again",)] and socket.listeners_any_outgoing() == []


async def test_handler_errors_are_logged_once_and_the_socket_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()

    def broken() -> None:
        raise RuntimeError("boom")

    async def broken_async() -> None:
        raise RuntimeError("async boom")

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("broken", broken)
        socket.on("broken_async", broken_async)
        sync_handler(socket)

    async with pair(io) as (client, socket):
        with caplog.at_level(logging.ERROR, logger="aiosio"):
            for _ in range(3):
                with pytest.raises(AckTimeout):  # a failed handler does not answer
                    await within(client.emit_with_ack("broken", timeout=0.01))
            with pytest.raises(AckTimeout):
                await within(client.emit_with_ack("broken_async", timeout=0.01))
            client.emit("broken_async")
            await synced(client)
        failures = [r for r in caplog.records if r.name == "aiosio.socket"]
        assert [r.getMessage() for r in failures] == [
            f"handler {broken!r} failed (logged once per connection)",
            f"handler {broken_async!r} failed (logged once per connection)",
        ]
        assert socket.connected and client.connected


# -- the error event ---------------------------------------------------------------------


async def test_a_client_event_named_error_does_not_fire_error_handlers() -> None:
    io = aiosio.Server()
    errors: list[Any] = []

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("error", errors.append)
        sync_handler(socket)

    async with pair(io) as (client, _):
        client.emit("error", "spoofed")
        await synced(client)
        assert errors == []


# -- data, handshake, identity --------------------------------------------------------------


async def test_data_is_free_for_the_application() -> None:
    io = aiosio.Server()
    seen: list[Any] = []

    def tag(socket: aiosio.Socket) -> None:
        seen.append(dict(socket.data))
        socket.data["user"] = socket.handshake.auth["user"]

    io.use(tag)
    io.on("connection", lambda socket: seen.append(dict(socket.data)))
    async with pair(io, auth={"user": "ada"}) as (_, socket):
        assert seen == [{}, {"user": "ada"}]
        assert socket.data == {"user": "ada"}
        socket.data = ["anything"]
        (fetched,) = await io.fetch_sockets()
        assert fetched is socket and fetched.data == ["anything"]


async def test_handshake_fields() -> None:
    io = aiosio.Server()
    before = int(time.time() * 1000)
    async with pair(
        io,
        auth={"token": "t", "n": [1]},
        headers={"X-Trace": "abc", "Origin": "http://example.com"},
        query={"room": "sports"},
    ) as (client, socket):
        after = int(time.time() * 1000)
        handshake = socket.handshake
        assert handshake.auth == {"token": "t", "n": [1]}
        assert handshake.headers["x-trace"] == "abc"
        assert handshake.headers["origin"] == "http://example.com"
        assert handshake.xdomain is True  # an Origin header came
        assert handshake.secure is False  # http
        assert handshake.address == "127.0.0.1"
        assert handshake.query["room"] == "sports"
        assert handshake.query["EIO"] == "4"
        assert handshake.query["transport"] == "websocket"
        assert handshake.url.startswith("/socket.io/?")
        assert "room=sports" in handshake.url and "EIO=4" in handshake.url
        assert before <= handshake.issued <= after
        assert handshake.time.endswith(" GMT")
        assert socket.id == client.id
        assert socket.namespace == "/" and socket.nsp is io.sockets
        assert socket.server is io
        assert socket.recovered is False
        assert repr(socket) == f"<Socket {socket.id} / connected=True>"


async def test_handshake_without_origin_and_without_auth() -> None:
    io = aiosio.Server()
    async with pair(io, "/news") as (_, socket):
        assert socket.handshake.auth == {}
        assert socket.handshake.xdomain is False
        assert socket.namespace == "/news"


async def test_socket_ids_are_fresh_per_connection() -> None:
    io = aiosio.Server()
    async with aiosio.testing.serve(io) as served:
        clients = [await within(served.connect()) for _ in range(5)]
        ids = {client.id for client in clients}
        assert len(ids) == 5
        assert ids == set(io.sockets.sockets)


async def test_connection_handler_refusing_too_late_disconnects() -> None:
    io = aiosio.Server()
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        raise ConnectionRefused("too late")

    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        client_reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", lambda reason, *_: client_reasons.put_nowait(reason))
        assert await within(reasons.get()) == "server namespace disconnect"
        if client.connected:
            assert await within(client_reasons.get()) == "io server disconnect"
        assert drain(reasons) == []


async def test_timed_out_broadcast_acks_are_released() -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        client.on("silent", lambda *, ack: None)  # never answers
        for _ in range(20):
            with pytest.raises(AckTimeout):
                await within(io.timeout(0.001).emit_with_ack("silent"))
        # The socket's own deadline follows the broadcast's by the time it took to emit.
        await asyncio.sleep(0.01)
        assert socket.pending_acks == 0
        assert socket.connected


async def test_volatile_emit_with_ack_is_dropped_when_the_transport_is_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    io = aiosio.Server()
    async with pair(io) as (client, socket):
        sync_handler(socket)
        heard: asyncio.Queue[str] = asyncio.Queue()
        client.on("question", lambda: heard.put_nowait("question") or "answer")
        assert await within(socket.volatile.timeout(1).emit_with_ack("question")) == "answer"
        monkeypatch.setattr(type(socket.conn), "writable", lambda self: False)
        with pytest.raises(AckTimeout):  # dropped: no answer comes, and the timeout says so
            await within(socket.volatile.timeout(0.01).emit_with_ack("question"))
        monkeypatch.undo()
        await synced(client)
        assert drain(heard) == ["question"]  # the dropped one never reached the client
        assert socket.pending_acks == 0


async def test_each_socket_of_a_connection_has_its_own_handshake_query_and_headers() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    io.of("/news").on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect(query={"a": "1"}, headers={"x-a": "1"}))
        main = await within(sockets.get())
        news_client = client.io.socket("/news")
        await within(news_client.connect())
        news = await within(sockets.get())
        assert news.conn is main.conn
        assert main.handshake.query["a"] == news.handshake.query["a"] == "1"
        assert main.handshake.headers["x-a"] == news.handshake.headers["x-a"] == "1"
        main.handshake.query["a"] = "changed"
        main.handshake.headers["x-a"] = "changed"
        assert news.handshake.query["a"] == "1"
        assert news.handshake.headers["x-a"] == "1"
        await news_client.disconnect()


# -- coroutine handlers run eagerly ---------------------------------------------------------

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


async def test_a_coroutine_handler_that_does_not_wait_answers_in_place_and_in_order() -> None:
    io = aiosio.Server()
    tasks: list[asyncio.Task[Any] | None] = []
    gate = asyncio.Event()

    async def quick(value: int) -> int:
        tasks.append(asyncio.current_task())
        return value

    async def slow(value: int) -> int:
        await gate.wait()
        return value

    io.on("connection", lambda socket: (socket.on("quick", quick), socket.on("slow", slow)))
    async with running(io) as url:
        client = aiosio.Client(url, force_new=True, reconnection=False, transports=["websocket"])
        answers: list[int] = []
        try:
            await within(client.connect())
            pending = [
                client.emit_with_ack("slow", 0),
                client.emit_with_ack("quick", 1),
                client.emit_with_ack("quick", 2),
            ]
            waits = [asyncio.ensure_future(p) for p in pending]
            for wait, number in zip(waits, (0, 1, 2), strict=True):
                wait.add_done_callback(lambda _, n=number: answers.append(n))
            await within(asyncio.gather(waits[1], waits[2]))
            assert answers == [1, 2]  # the one that waits does not hold the others up
            gate.set()
            assert await within(waits[0]) == 0
        finally:
            await client.disconnect()
    # Over a real socket, data arrives in a transport callback: no task ran the handler.
    assert tasks == [None, None]
    assert answers == [1, 2, 0]


async def test_a_failing_coroutine_handler_is_logged_as_a_plain_one_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()
    gate = asyncio.Event()

    async def at_once() -> None:
        raise RuntimeError("first step")

    async def later() -> None:
        await gate.wait()
        raise RuntimeError("after a wait")

    def plain() -> None:
        raise RuntimeError("plain")

    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("at_once", at_once)
        socket.on("later", later)
        socket.on("plain", plain)
        socket.on("sync", lambda: "synced")

    logged = asyncio.Event()  # set when the failure after the wait is logged

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and str(record.exc_info[1]) == "after a wait":
                logged.set()

    signal = Signal()
    logging.getLogger("aiosio.socket").addHandler(signal)
    io.on("connection", on_connection)
    async with running(io) as url:
        client = aiosio.Client(url, force_new=True, reconnection=False)
        try:
            await within(client.connect())
            with caplog.at_level(logging.ERROR, logger="aiosio"):
                client.emit("at_once")
                client.emit("later")
                client.emit("plain")
                await synced(client)
                gate.set()
                await within(logged.wait())
        finally:
            await client.disconnect()
            logging.getLogger("aiosio.socket").removeHandler(signal)
    records = [r for r in caplog.records if r.name == "aiosio.socket"]
    messages = [r.getMessage() for r in records]
    assert messages == [
        f"handler {at_once!r} failed (logged once per connection)",
        f"handler {plain!r} failed (logged once per connection)",
        f"handler {later!r} failed (logged once per connection)",
    ]
    assert [str(r.exc_info[1]) for r in records if r.exc_info] == [
        "first step",
        "plain",
        "after a wait",
    ]


async def test_a_suspended_handler_is_cancelled_when_the_server_closes() -> None:
    io = aiosio.Server()
    started = asyncio.Event()
    ended: list[str] = []

    async def waits_forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    io.on("connection", lambda socket: socket.on("wait", waits_forever))
    async with running(io) as url:
        client = aiosio.Client(url, force_new=True, reconnection=False)
        try:
            await within(client.connect())
            client.emit("wait")
            await within(started.wait())
        finally:
            await client.disconnect()
    assert ended == ["cancelled"]  # running() closed the server


async def test_a_coroutine_handler_keeps_its_context_variables_to_itself() -> None:
    io = aiosio.Server()
    seen: list[tuple[str, str]] = []
    gate, waiting = asyncio.Event(), asyncio.Event()

    async def tag(name: str, wait: bool) -> str:
        seen.append((name, REQUEST_ID.get()))
        REQUEST_ID.set(name)
        if wait:
            waiting.set()
            await gate.wait()
        seen.append((name, REQUEST_ID.get()))  # its own value, after the wait too
        return name

    def peek() -> str:
        return REQUEST_ID.get()

    io.on("connection", lambda socket: (socket.on("tag", tag), socket.on("peek", peek)))
    async with running(io) as url:
        client = aiosio.Client(url, force_new=True, reconnection=False, transports=["websocket"])
        try:
            await within(client.connect())
            first = asyncio.ensure_future(client.emit_with_ack("tag", "a", True))
            await within(waiting.wait())
            assert await within(client.emit_with_ack("tag", "b", False)) == "b"
            assert await within(client.emit_with_ack("peek")) == "unset"
            gate.set()
            assert await within(first) == "a"
        finally:
            await client.disconnect()
    assert seen == [("a", "unset"), ("b", "unset"), ("b", "b"), ("a", "a")]
