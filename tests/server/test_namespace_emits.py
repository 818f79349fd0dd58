"""aiosio.server.namespace_emits: emits to every socket of a namespace, and the server's
shortcuts for its main namespace, through clients connected in memory (aiosio.testing).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import aiosio
import aiosio.testing
from tests.support.waits import within

# -- a namespace's emits ----------------------------------------------------------------------


async def test_namespace_emit_reaches_only_its_sockets() -> None:
    io = aiosio.Server()
    news = io.of("/news")
    async with aiosio.testing.serve(io) as served:
        got: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        for name in ("/", "/news"):
            client = await within(served.connect(name))
            client.on_any(lambda event, *args, name=name: got.put_nowait((name, event, *args)))
        news.emit("headline", 1)
        news.send("text")
        io.emit("end")
        received = [await within(got.get()) for _ in range(3)]
        assert [item for item in received if item[0] == "/news"] == [
            ("/news", "headline", 1),
            ("/news", "message", "text"),
        ]
        assert [item for item in received if item[0] == "/"] == [("/", "end")]


async def test_server_side_emit_without_a_cluster_reaches_nobody() -> None:
    io = aiosio.Server()
    heard: list[Any] = []
    io.on("ping-servers", heard.append)
    async with aiosio.testing.serve(io):
        assert await io.server_side_emit("ping-servers", 1) == []
        assert await io.of("/news").server_side_emit("ping-servers", 1, timeout=0.01) == []
        assert heard == []  # a server does not hear its own server-side emits
        for reserved in ("connection", "connect", "new_namespace"):
            with pytest.raises(ValueError, match="is a reserved event name"):
                await io.server_side_emit(reserved)


# -- the main namespace's shortcuts on the server ---------------------------------------------


async def test_io_emit_reaches_every_client_of_the_main_namespace_only() -> None:
    io = aiosio.Server()
    io.of("/other")
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    async with aiosio.testing.serve(io) as served:
        for index in range(3):
            client = await within(served.connect())
            client.on_any(lambda *item, index=index: got.put_nowait((index, *item)))
        other = await within(served.connect("/other"))
        other.on_any(lambda *item: got.put_nowait(("other", *item)))
        io.emit("all", 1)
        io.send("text")
        received = [await within(got.get()) for _ in range(6)]
        assert sorted(received, key=repr) == sorted(
            [(i, "all", 1) for i in range(3)] + [(i, "message", "text") for i in range(3)],
            key=repr,
        )
        io.of("/other").emit("end")
        assert await within(got.get()) == ("other", "end")  # nothing else came before it


async def test_io_shortcuts_are_the_main_namespaces() -> None:
    io = aiosio.Server()
    async with aiosio.testing.serve(io) as served:
        clients = [await within(served.connect()) for _ in range(3)]
        for client in clients:
            client.on("q", lambda: "pong")
        sockets = await io.fetch_sockets()
        assert sorted(s.id for s in sockets) == sorted(c.id for c in clients)
        assert await within(io.timeout(1).emit_with_ack("q")) == ["pong"] * 3
        assert await within(io.emit_with_ack("q")) == ["pong"] * 3
        io.sockets_join("everyone")
        assert len(await io.in_("everyone").fetch_sockets()) == 3
        io.except_(clients[0].id).sockets_leave("everyone")
        assert [s.id for s in await io.to("everyone").fetch_sockets()] == [clients[0].id]
        assert len(await io.volatile.local.compress(False).fetch_sockets()) == 3
        assert await io.server_side_emit("q") == []
        io.disconnect_sockets()
        assert io.sockets.sockets == {}


def test_on_main_forwarders_carry_the_namespace_methods_signature_and_docstring() -> None:
    from aiosio.server.features import Features
    from aiosio.server.namespace_emits import MainNamespaceEmits, NamespaceEmits

    pairs = [
        (MainNamespaceEmits.emit, NamespaceEmits.emit),
        (MainNamespaceEmits.emit_with_ack, NamespaceEmits.emit_with_ack),
        (MainNamespaceEmits.to_user, Features.to_user),
        (MainNamespaceEmits.user_sockets, Features.user_sockets),
    ]
    for forwarder, method in pairs:
        assert inspect.signature(forwarder) == inspect.signature(method)
        assert inspect.iscoroutinefunction(forwarder) == inspect.iscoroutinefunction(method)
        assert forwarder.__module__ == "aiosio.server.namespace_emits"
        doc = forwarder.__doc__ or ""
        assert doc.startswith(inspect.cleandoc(method.__doc__ or "").split("\n")[0])
        assert "main namespace ``/``" in doc
        assert "Args:" in doc
