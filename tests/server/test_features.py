"""The namespace's feature methods: rewind only once connected, a dynamic child namespace
gets them too, reauthentication middlewares per namespace."""

from __future__ import annotations

import re

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import InvalidState


async def test_rewind_in_a_middleware_is_refused() -> None:
    io = aiosio.Server()
    io.sockets.history("room")
    errors: list[Exception] = []

    @io.use
    def early(socket: aiosio.Socket) -> None:
        try:
            socket.join("room", rewind=1)
        except InvalidState as exc:
            errors.append(exc)

    async with aiosio.testing.serve(io) as server:
        await server.connect()
    assert len(errors) == 1 and "once connected" in str(errors[0])


async def test_dynamic_children_have_presence_and_history() -> None:
    io = aiosio.Server(presence=True)
    parent = io.of(re.compile(r"/team-\w+"))
    parent.on("connection", lambda socket: socket.join("general"))
    async with aiosio.testing.serve(io) as server:
        await server.connect("/team-a")
        child = io.namespaces["/team-a"]
        assert child.presence is not None
        assert await child.in_("general").count_users() == 1
        log = child.history("general", max_len=5)
        assert child.histories.logs["general"] is log
        with pytest.raises(ValueError):
            child.history("", max_len=5)
