"""aiosio.admin_sockets: a socket as the Admin UI is shown it."""

from __future__ import annotations

import asyncio

import aiosio.testing
from aiosio import Server, Socket
from aiosio.admin_sockets import serialize, timestamp
from aiosio.server.broadcast import RemoteSocket
from tests.support.waits import within


def test_serialize_a_remote_socket_and_a_forwarded_address() -> None:
    io = Server()
    remote = RemoteSocket(
        io.sockets.adapter,
        {
            "id": "abc",
            "handshake": {"address": "10.0.0.1", "headers": {"x-forwarded-for": "1.2.3.4"}},
            "rooms": ["abc", "r"],
            "data": {"_admin": {"clientId": "cid", "transport": "polling"}, "k": b"\x00"},
        },
    )
    serialized = serialize(remote, "/")
    assert serialized["handshake"] == {
        "address": "1.2.3.4",
        "headers": {"x-forwarded-for": "1.2.3.4"},
    }
    assert (serialized["clientId"], serialized["transport"]) == ("cid", "polling")
    assert serialized["rooms"] == ["abc", "r"]
    assert serialized["data"] == {"k": "b'\\x00'"}  # what JSON cannot carry, as its repr


async def test_serialize_a_local_socket() -> None:
    io = Server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        await within(served.connect(headers={"x-forwarded-for": "5.6.7.8"}, query={"q": "1"}))
        socket = await within(sockets.get())
        socket.join("r")
        socket.data = {"_admin": {"kept": "out"}, "score": 3}
        serialized = serialize(socket, "/")
    assert serialized["id"] == socket.id
    assert serialized["clientId"] == socket.conn.session.sid[:12]
    assert serialized["transport"] == "websocket"
    assert serialized["rooms"] == sorted([socket.id, "r"])
    assert serialized["data"] == {"score": 3}
    assert serialized["handshake"]["address"] == "5.6.7.8"
    assert serialized["handshake"]["query"]["q"] == "1"


def test_timestamps_are_as_javascript_dates_serialise() -> None:
    stamp = timestamp()
    assert len(stamp) == len("2026-01-01T00:00:00.000Z") and stamp.endswith("Z")
