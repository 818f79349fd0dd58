"""aiosio.server.namespace: namespaces, middlewares, connection
handlers and the namespace-wide operations, through clients connected in memory."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import ConnectionError, ConnectionRefused
from tests.support.waits import within

# -- of() -----------------------------------------------------------------------------------


def test_of_names_and_returns_one_namespace_per_name() -> None:
    io = aiosio.Server()
    news = io.of("/news")
    assert io.of("news") is news  # the leading slash is added
    assert news.name == "/news" and news.server is io and news.parent is None
    assert io.of("/") is io.sockets
    assert set(io.namespaces) == {"/", "/news"}
    assert io.namespaces["/news"] is news
    assert isinstance(news, aiosio.Namespace)
    assert repr(news) == "<Namespace /news sockets=0>"


async def test_each_namespace_has_its_own_handlers() -> None:
    io = aiosio.Server()
    io.on("connection", lambda socket: socket.on("who", lambda: "main"))
    io.of("/news").on("connection", lambda socket: socket.on("who", lambda: "news"))
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect())
        news = await within(served.connect("/news"))
        assert await within(main.emit_with_ack("who", timeout=1)) == "main"
        assert await within(news.emit_with_ack("who", timeout=1)) == "news"
        assert set(io.sockets.sockets) == {main.id}
        assert set(io.of("/news").sockets) == {news.id}


# -- middlewares ----------------------------------------------------------------------------


async def test_middlewares_run_in_order_sync_and_async() -> None:
    io = aiosio.Server()
    order: list[str] = []

    def first(socket: aiosio.Socket) -> None:
        order.append("first")
        socket.data["seen"] = ["first"]

    async def second(socket: aiosio.Socket) -> None:
        await asyncio.sleep(0)
        order.append("second")
        socket.data["seen"].append("second")

    def third(socket: aiosio.Socket) -> None:
        order.append("third")

    news = io.of("/news")
    assert news.use(first) is first
    news.use(second)
    news.use(third)
    news.on("connection", lambda socket: order.append(f"connection {socket.data['seen']}"))
    async with aiosio.testing.serve(io) as served:
        await within(served.connect("/news"))
        assert order == ["first", "second", "third", "connection ['first', 'second']"]
        order.clear()
        await within(served.connect())  # another namespace: its own (no) middlewares
        assert order == []


async def test_plain_middlewares_run_in_place_and_an_awaitable_result_is_awaited() -> None:
    io = aiosio.Server()
    runners: list[str | None] = []  # the coroutine of the task each plain middleware ran in
    order: list[str] = []

    def plain(socket: aiosio.Socket) -> None:
        task = asyncio.current_task()
        runners.append(task.get_coro().__qualname__ if task is not None else None)  # type: ignore[union-attr]
        order.append("plain")

    async def later(socket: aiosio.Socket) -> None:
        await asyncio.sleep(0)
        order.append("awaited")

    def gives_an_awaitable(socket: aiosio.Socket) -> Any:
        order.append("gives")
        return later(socket)  # a plain function's awaitable result is awaited too

    io.use(plain)
    io.of("/slow").use(gives_an_awaitable)
    io.of("/slow").use(plain)
    io.on("connection", lambda socket: order.append("connection"))
    async with aiosio.testing.serve(io) as served:
        await within(served.connect())
        # run where the CONNECT was read, not in a middleware task of its own
        assert order == ["plain", "connection"]
        assert runners[0] != "Namespace._add_async"
        order.clear()
        await within(served.connect("/slow"))
        assert order == ["gives", "awaited", "plain"]
        assert runners[1] == "Namespace._add_async"  # after an awaitable: in the task


@pytest.mark.parametrize(
    ("error", "message", "data"),
    [
        (ConnectionRefused("nope", {"why": [1]}), "nope", {"why": [1]}),
        (ConnectionRefused(), "Connection refused", None),
        (ValueError("bad token"), "bad token", None),
        (KeyError(), "KeyError", None),
    ],
)
async def test_a_refusing_middleware_stops_the_rest(
    error: Exception, message: str, data: Any
) -> None:
    io = aiosio.Server()
    order: list[str] = []

    async def refuse(socket: aiosio.Socket) -> None:
        order.append("refuse")
        raise error

    io.use(lambda socket: order.append("before"))
    io.use(refuse)
    io.use(lambda socket: order.append("after"))
    io.on("connection", lambda socket: order.append("connection"))
    async with aiosio.testing.serve(io) as served:
        with pytest.raises(ConnectionError) as info:
            await within(served.connect())
        assert (info.value.message, info.value.data) == (message, data)
        assert order == ["before", "refuse"]
        assert io.sockets.sockets == {}


async def test_an_exception_with_data_passes_it_on() -> None:
    io = aiosio.Server()

    class Denied(Exception):
        data = {"retry": False}

    def refuse(socket: aiosio.Socket) -> None:
        raise Denied("denied")

    io.use(refuse)
    async with aiosio.testing.serve(io) as served:
        with pytest.raises(ConnectionError) as info:
            await within(served.connect())
        assert (info.value.message, info.value.data) == ("denied", {"retry": False})


async def test_a_refused_namespace_may_be_tried_again_on_the_same_connection() -> None:
    io = aiosio.Server()

    def check(socket: aiosio.Socket) -> None:
        if socket.handshake.auth.get("key") != "k":
            raise ConnectionRefused("wrong key")

    io.of("/private").use(check)
    async with aiosio.testing.serve(io) as served:
        main = await within(served.connect())
        private = main.io.socket("/private")
        private.auth = {"key": "bad"}
        with pytest.raises(ConnectionError, match=r"^wrong key$"):
            await within(private.connect())
        private.auth = {"key": "k"}
        await within(private.connect())
        assert private.connected and main.connected
        assert set(io.of("/private").sockets) == {private.id}


# -- connection handlers ----------------------------------------------------------------------


async def test_connection_handlers_run_in_order_and_survive_each_others_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()
    order: list[str] = []
    done: asyncio.Queue[None] = asyncio.Queue()

    def broken(socket: aiosio.Socket) -> None:
        order.append("broken")
        raise RuntimeError("boom")

    async def later(socket: aiosio.Socket) -> None:
        order.append("async")
        done.put_nowait(None)

    news = io.of("/news")
    news.on("connect", lambda socket: order.append("connect alias"))
    news.on("connection", broken)
    news.on("connection")(later)
    news.on("connection", lambda socket: order.append("last"))
    async with aiosio.testing.serve(io) as served:
        with caplog.at_level(logging.ERROR, logger="aiosio"):
            client = await within(served.connect("/news"))
            await within(done.get())
        # A coroutine handler runs eagerly, in its turn: a task only if it suspends.
        assert order == ["connect alias", "broken", "async", "last"]
        assert client.connected
        messages = [r.getMessage() for r in caplog.records if r.name == "aiosio.namespace"]
        assert messages == [f"connection handler {broken!r} failed (logged once per connection)"]


async def test_off_removes_connection_handlers() -> None:
    io = aiosio.Server()
    calls: list[str] = []

    def one(socket: aiosio.Socket) -> None:
        calls.append("one")

    def two(socket: aiosio.Socket) -> None:
        calls.append("two")

    io.on("connection", one)
    io.on("connection", two)
    io.sockets.off("connect", one)  # the alias works here too
    async with aiosio.testing.serve(io) as served:
        await within(served.connect())
        assert calls == ["two"]
        io.sockets.off("connection")
        await within(served.connect())
        assert calls == ["two"]


def test_a_connection_handler_needing_more_than_the_socket_is_refused_at_once() -> None:
    io = aiosio.Server()

    def connect(sid: str, environ: dict[str, Any]) -> None:
        """python-socketio's habit."""

    with pytest.raises(TypeError, match="connection handlers take one argument"):
        io.on("connect", connect)
    io.on("connection", lambda socket, extra=None: None)  # optional extras are fine


async def test_room_events_of_the_namespace() -> None:
    io = aiosio.Server()
    events: list[tuple[Any, ...]] = []
    for name in ("create-room", "join-room", "leave-room", "delete-room"):
        io.on(name, lambda *args, name=name: events.append((name, *args)))
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        await within(served.connect())
        socket = await within(sockets.get())
        sid = socket.id
        assert events == [("create-room", sid), ("join-room", sid, sid)]
        events.clear()
        socket.join("r")
        socket.leave("r")
        assert events == [
            ("create-room", "r"),
            ("join-room", "r", sid),
            ("leave-room", "r", sid),
            ("delete-room", "r"),
        ]


# -- namespace-wide operations ------------------------------------------------------------------


async def test_fetch_sockets_join_leave_and_disconnect_sockets() -> None:
    io = aiosio.Server()
    news = io.of("/news")
    reasons: asyncio.Queue[str] = asyncio.Queue()
    news.on("connection", lambda s: s.on("disconnect", lambda r, *_: reasons.put_nowait(r)))
    async with aiosio.testing.serve(io) as served:
        clients = [await within(served.connect("/news")) for _ in range(3)]
        await within(served.connect())  # in "/": never concerned
        ids = [client.id for client in clients]
        fetched = await news.fetch_sockets()
        assert sorted(socket.id for socket in fetched) == sorted(ids)
        assert all(isinstance(socket, aiosio.Socket) for socket in fetched)

        news.sockets_join("all")
        news.in_(ids[0]).sockets_join(["first", "picked"])
        news.in_([ids[1], ids[2]]).sockets_join("picked")
        assert sorted(s.id for s in await news.in_("all").fetch_sockets()) == sorted(ids)
        assert sorted(s.id for s in await news.in_("picked").fetch_sockets()) == sorted(ids)
        assert [s.id for s in await news.in_("first").fetch_sockets()] == [ids[0]]
        news.except_(ids[0]).sockets_leave("picked")
        assert [s.id for s in await news.in_("picked").fetch_sockets()] == [ids[0]]
        news.sockets_leave(["all", "first", "picked"])
        assert await news.in_(["all", "first", "picked"]).fetch_sockets() == []

        news.in_(ids[0]).disconnect_sockets()
        assert await within(reasons.get()) == "server namespace disconnect"
        assert sorted(news.sockets) == sorted(ids[1:])
        news.disconnect_sockets(close=True)
        assert [await within(reasons.get()) for _ in range(2)] == [
            "server namespace disconnect",
            "server namespace disconnect",
        ]
        assert news.sockets == {}
        assert len(io.sockets.sockets) == 1


async def test_a_client_event_only_a_namespace_handler_listens_to_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server()
    io.on("chat", lambda *args: None)  # heard only for server_side_emit
    io.on("connection", lambda socket: socket.on("sync", lambda: "synced"))
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        with caplog.at_level(logging.WARNING, logger="aiosio"):
            client.emit("chat", "hi")
            client.emit("chat", "again")
            assert await within(client.emit_with_ack("sync", timeout=1)) == "synced"
        warnings = [r.getMessage() for r in caplog.records if r.name == "aiosio.namespace"]
        assert len(warnings) == 1
        assert warnings[0].startswith("a client emitted 'chat' in namespace '/'")
        assert warnings[0].endswith("(logged once)")
