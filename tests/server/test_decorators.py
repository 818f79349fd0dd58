"""The server's listener decorators (issue "What a new user trips on"): typed now, and
they still give back the function and register it, called either way. Their types are
checked in tests/test_readme.py."""

from __future__ import annotations

import aiosio


def test_new_namespace_listeners_register_both_ways() -> None:
    io = aiosio.Server()
    created: list[str] = []

    def on_created(namespace: aiosio.Namespace) -> None:
        created.append(namespace.name)

    assert io.on("new_namespace")(on_created) is on_created
    assert io.on("new_namespace", on_created) is on_created
    io.of("/news")
    assert created == ["/news", "/news"]


def test_every_decorator_gives_back_the_function() -> None:
    io = aiosio.Server()

    def connection(socket: aiosio.Socket) -> None:
        pass

    assert io.event(connection) is connection
    assert io.on("connection")(connection) is connection
    assert io.on("connect", connection) is connection
    assert io.of("/news").on("connection")(connection) is connection
    assert io.of("/news").on("connection", connection) is connection
