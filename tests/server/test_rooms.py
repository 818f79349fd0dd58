"""aiosio.server.rooms: a socket's rooms, and the broadcasts made from a socket.

A real server and a real client connected in memory (aiosio.testing): no socket, no
port, no sleep; a test waits on queues that handlers fill.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosio
import aiosio.testing
from tests.support.sockets import pair
from tests.support.waits import within


async def test_join_leave_and_rooms() -> None:
    io = aiosio.Server()
    async with pair(io) as (_, socket):
        assert socket.rooms == {socket.id}
        socket.join("a")
        socket.join(["b", "c"])
        socket.join(("c", "d"))
        assert socket.rooms == {socket.id, "a", "b", "c", "d"}
        socket.leave("b")
        socket.leave("never-joined")
        assert socket.rooms == {socket.id, "a", "c", "d"}
        copy = socket.rooms
        copy.add("not-joined")
        assert "not-joined" not in socket.rooms  # a copy
        assert {s.id for s in await io.in_("a").fetch_sockets()} == {socket.id}
        socket.disconnect()
        assert socket.rooms == set()
        assert await io.in_("a").fetch_sockets() == []


async def test_to_except_and_broadcast_from_a_socket_skip_the_sender() -> None:
    io = aiosio.Server()
    sockets: dict[str, aiosio.Socket] = {}

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        name = socket.handshake.auth["name"]
        sockets[name] = socket
        socket.join(name)
        if name != "carol":
            socket.join("room")

    inbox = {name: asyncio.Queue[tuple[Any, ...]]() for name in ("alice", "bob", "carol")}
    async with aiosio.testing.serve(io) as served:
        for name, queue in inbox.items():
            client = await within(served.connect(auth={"name": name}))
            client.on_any(lambda event, *args, queue=queue: queue.put_nowait((event, *args)))
        alice = sockets["alice"]

        alice.to("room").emit("to", 1)  # bob only: alice is the sender, carol is out
        alice.in_("room", "carol").emit("in", 2)  # bob and carol
        alice.except_("bob").emit("except", 3)  # carol: everyone but bob and the sender
        alice.to(["room"]).except_("carol").emit("to-except", 4)  # bob
        alice.broadcast.emit("broadcast", 5)  # bob and carol
        io.emit("end")  # everyone: what was sent before it has come

        async def until_end(queue: asyncio.Queue[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            seen = []
            while (item := await within(queue.get())) != ("end",):
                seen.append(item)
            return seen

        assert await until_end(inbox["alice"]) == []
        assert await until_end(inbox["bob"]) == [
            ("to", 1),
            ("in", 2),
            ("to-except", 4),
            ("broadcast", 5),
        ]
        assert await until_end(inbox["carol"]) == [("in", 2), ("except", 3), ("broadcast", 5)]
