"""aiosio.server.parent: dynamic namespaces (``io.of(re.compile(...))`` or a function),
their children's life, and the parent's operations applied to every child, through clients
connected in memory."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import ConnectionError, ConnectionRefused
from tests.support.waits import within

# -- dynamic namespaces -------------------------------------------------------------------


async def test_dynamic_namespaces_by_regular_expression() -> None:
    io = aiosio.Server()
    created: list[str] = []
    io.on("new_namespace", lambda namespace: created.append(namespace.name))
    parent = io.of(re.compile(r"/room-\d+"))
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    parent.on("connection", sockets.put_nowait)
    assert parent.name not in io.namespaces  # a parent is no namespace of its own

    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect("/room-12"))
        socket = await within(sockets.get())
        assert socket.namespace == "/room-12" and client.namespace == "/room-12"
        child = socket.nsp
        assert child.parent is parent and io.namespaces["/room-12"] is child
        assert created == ["/room-12"]

        again = await within(served.connect("/room-12"))  # the same child
        assert (await within(sockets.get())).nsp is child
        assert created == ["/room-12"]
        assert set(child.sockets) == {client.id, again.id}

        for name in ("/room-x", "/room-1x", "/prefix/room-1"):  # a full match is needed
            with pytest.raises(ConnectionError, match=r"^Invalid namespace$"):
                await within(served.connect(name))
        assert set(io.namespaces) == {"/", "/room-12"}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_dynamic_namespaces_by_function_see_the_auth(kind: str) -> None:
    io = aiosio.Server()
    asked: list[tuple[str, Any]] = []

    def allow(name: str, auth: Any) -> bool:
        asked.append((name, auth))
        return name.startswith("/team-") and auth.get("key") == "k"

    async def allow_async(name: str, auth: Any) -> bool:
        return allow(name, auth)

    parent = io.of(allow if kind == "sync" else allow_async)
    parent.on("connection", lambda socket: socket.on("where", lambda: socket.namespace))
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect("/team-a", auth={"key": "k"}))
        assert await within(client.emit_with_ack("where", timeout=1)) == "/team-a"
        with pytest.raises(ConnectionError, match=r"^Invalid namespace$"):
            await within(served.connect("/team-b", auth={"key": "wrong"}))
        with pytest.raises(ConnectionError, match=r"^Invalid namespace$"):
            await within(served.connect("/other", auth={"key": "k"}))
        assert asked == [
            ("/team-a", {"key": "k"}),
            ("/team-b", {"key": "wrong"}),
            ("/other", {"key": "k"}),
        ]
        assert "/team-b" not in io.namespaces and "/other" not in io.namespaces


async def test_a_failing_matcher_refuses_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    io = aiosio.Server()

    def needs_auth(name: str, auth: Any) -> bool:
        return bool(auth["required"])  # KeyError without it

    io.of(needs_auth)
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        with caplog.at_level(logging.ERROR, logger="aiosio"):
            for _ in range(2):
                other = client.io.socket("/dyn")
                with pytest.raises(ConnectionError, match=r"^Invalid namespace$"):
                    await within(other.connect())
        failures = [r.getMessage() for r in caplog.records if r.name == "aiosio.connection"]
        assert failures == ["a namespace matcher failed on '/dyn' (logged once per connection)"]
        assert client.connected


async def test_an_empty_child_is_removed_unless_told_otherwise() -> None:
    io = aiosio.Server()
    reasons: asyncio.Queue[str] = asyncio.Queue()
    parent = io.of(re.compile(r"/dyn-\w+"))
    parent.on("connection", lambda s: s.on("disconnect", lambda r, *_: reasons.put_nowait(r)))
    async with aiosio.testing.serve(io) as served:
        first = await within(served.connect("/dyn-a"))
        second = await within(served.connect("/dyn-a"))
        await first.disconnect()
        await within(reasons.get())
        assert "/dyn-a" in io.namespaces  # one socket left
        await second.disconnect()
        await within(reasons.get())
        assert "/dyn-a" not in io.namespaces
        # A new client makes a new child.
        third = await within(served.connect("/dyn-a"))
        assert third.connected and "/dyn-a" in io.namespaces

    kept = aiosio.Server(cleanup_empty_child_namespaces=False)
    kept.of(re.compile(r"/dyn-\w+")).on(
        "connection", lambda s: s.on("disconnect", lambda r, *_: reasons.put_nowait(r))
    )
    async with aiosio.testing.serve(kept) as served:
        client = await within(served.connect("/dyn-b"))
        await client.disconnect()
        await within(reasons.get())
        assert "/dyn-b" in kept.namespaces


async def test_a_refused_connect_leaves_no_empty_child() -> None:
    io = aiosio.Server()
    parent = io.of(re.compile(r"/dyn-\w+"))

    def refuse(socket: aiosio.Socket) -> None:
        raise ConnectionRefused("no")

    parent.use(refuse)
    async with aiosio.testing.serve(io) as served:
        with pytest.raises(ConnectionError, match=r"^no$"):
            await within(served.connect("/dyn-x"))
        assert "/dyn-x" not in io.namespaces


async def test_children_share_the_parents_middlewares_and_a_parent_emit_reaches_all() -> None:
    io = aiosio.Server()
    parent = io.of(re.compile(r"/dyn-\w+"))
    passed: list[str] = []
    parent.use(lambda socket: passed.append(socket.namespace))
    async with aiosio.testing.serve(io) as served:
        got: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        for name in ("/dyn-a", "/dyn-b"):
            client = await within(served.connect(name))
            client.on("hello", lambda value, name=name: got.put_nowait((name, value)))
        main = await within(served.connect())
        main.on("hello", lambda value: got.put_nowait(("/", value)))
        assert passed == ["/dyn-a", "/dyn-b"]
        parent.emit("hello", 1)
        io.emit("hello", "end")  # the main namespace only
        received = {await within(got.get()) for _ in range(3)}
        assert received == {("/dyn-a", 1), ("/dyn-b", 1), ("/", "end")}
        assert got.empty()


async def test_every_operation_of_a_parent_namespace_applies_to_its_children() -> None:
    io = aiosio.Server()
    parent = io.of(re.compile(r"/dyn-\w+"))
    async with aiosio.testing.serve(io) as served:
        clients = {}
        for name in ("/dyn-a", "/dyn-b"):
            client = await within(served.connect(name))
            client.on("question", lambda name=name: name)
            clients[name] = client
        main = await within(served.connect())
        main.on("question", lambda: "/")

        answers = await within(parent.timeout(1).emit_with_ack("question"))
        assert sorted(answers) == ["/dyn-a", "/dyn-b"]
        per_socket = await within(parent.timeout(1).emit_with_ack("question", per_socket=True))
        assert per_socket == {clients["/dyn-a"].id: ["/dyn-a"], clients["/dyn-b"].id: ["/dyn-b"]}
        called: asyncio.Queue[tuple[Any, list[Any]]] = asyncio.Queue()
        parent.timeout(1).emit("question", callback=lambda *args: called.put_nowait(args))
        error, answered = await within(called.get())
        assert error is None and sorted(answered) == ["/dyn-a", "/dyn-b"]

        found = await within(parent.fetch_sockets())
        assert {socket.id for socket in found} == {client.id for client in clients.values()}
        parent.sockets_join("room")
        assert all("room" in socket.rooms for socket in found)
        parent.sockets_leave("room")
        assert not any("room" in socket.rooms for socket in found)
        assert await within(parent.to("room").fetch_sockets()) == []

        parent.disconnect_sockets()
        assert not any(socket.connected for socket in found)
        assert main.connected and len(io.sockets.sockets) == 1


async def test_a_parent_namespace_without_children_answers_at_once() -> None:
    io = aiosio.Server()
    parent = io.of(re.compile(r"/dyn-\w+"))
    async with aiosio.testing.serve(io):
        assert await within(parent.timeout(1).emit_with_ack("question")) == []
        called: asyncio.Queue[tuple[Any, list[Any]]] = asyncio.Queue()
        parent.emit("question", callback=lambda *args: called.put_nowait(args))
        assert await within(called.get()) == (None, [])
        assert await within(parent.fetch_sockets()) == []
