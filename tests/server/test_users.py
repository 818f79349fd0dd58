"""Users on one server: socket.user, to_user, user_sockets, disconnect_user, revoke,
auth_expires_at, and the cluster's control messages refused when malformed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.server.users import CONTROL, check_user, on_control, user_room
from tests.support.waits import within


def _server() -> aiosio.Server:
    io = aiosio.Server()

    @io.use
    def identify(socket: aiosio.Socket) -> None:
        user = socket.handshake.auth.get("user")
        if user is not None:
            socket.user = user

    return io


async def test_to_user_reaches_every_socket_of_the_user_and_no_one_else() -> None:
    io = _server()
    async with aiosio.testing.serve(io) as server:
        tabs = [await server.connect(auth={"user": "u42"}) for _ in range(2)]
        other = await server.connect(auth={"user": "u7"})
        got: list[asyncio.Future[Any]] = []
        for tab in tabs:
            future = asyncio.get_running_loop().create_future()
            tab.on("hi", future.set_result)
            got.append(future)
        other.on("hi", lambda value: pytest.fail("another user got it"))
        io.to_user("u42").emit("hi", 1)
        assert await within(asyncio.gather(*got)) == [1, 1]
        sockets = await io.user_sockets("u42")
        assert sorted(s.id for s in sockets) == sorted(t.id for t in tabs if t.id)
        assert all(user_room("u42") in s.rooms for s in sockets)
        assert await io.user_sockets("nobody") == []


async def test_disconnect_user_gives_its_reason_to_the_disconnect_handlers() -> None:
    io = _server()
    reasons: list[str] = []

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason: reasons.append(reason))

    async with aiosio.testing.serve(io) as server:
        tab = await server.connect(auth={"user": "u42"}, retries=0)
        keep = await server.connect(auth={"user": "u7"})
        gone = asyncio.get_running_loop().create_future()
        tab.on("disconnect", gone.set_result)
        await io.disconnect_user("u42", reason="banned")
        assert await within(gone) == "io server disconnect"
        assert reasons == ["banned"]
        assert keep.connected
        await io.disconnect_user("nobody")  # an unknown user: nothing happens


async def test_revoke_covers_every_namespace() -> None:
    io = _server()
    io.of("/chat").use(lambda socket: setattr(socket, "user", "u42"))
    async with aiosio.testing.serve(io) as server:
        main = await server.connect(auth={"user": "u42"})
        chat = await server.connect("/chat")
        closed = [asyncio.get_running_loop().create_future() for _ in range(2)]
        main.on("disconnect", closed[0].set_result)
        chat.on("disconnect", closed[1].set_result)
        await io.revoke(user="u42", reason="password changed")
        await within(asyncio.gather(*closed))
        assert io.of("/chat").sockets == {} and io.sockets.sockets == {}


async def test_user_can_change_and_be_cleared() -> None:
    io = aiosio.Server()
    async with aiosio.testing.serve(io) as server:
        await server.connect()
        (socket,) = io.sockets.sockets.values()
        socket.user = "a"
        assert user_room("a") in socket.rooms
        socket.user = "b"
        assert user_room("a") not in socket.rooms and user_room("b") in socket.rooms
        socket.user = None
        assert not any(room.startswith("aiosio:user:") for room in socket.rooms)
        assert socket.user is None


@pytest.mark.parametrize(
    ("user", "error"), [(42, TypeError), ("", ValueError), ("x" * 257, ValueError)]
)
def test_bad_user_ids_are_refused(user: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_user(user)
    with pytest.raises(error):
        aiosio.Server().to_user(user)


async def test_auth_expiry_disconnects_with_its_reason_unless_moved() -> None:
    io = aiosio.Server()
    reasons: list[str] = []

    @io.use
    def expire(socket: aiosio.Socket) -> None:
        socket.auth_expires_at = time.time() + float(socket.handshake.auth["ttl"])

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason: reasons.append(reason))

    async with aiosio.testing.serve(io) as server:
        short = await server.connect(auth={"ttl": 0.05}, retries=0)
        long = await server.connect(auth={"ttl": 60})
        gone = asyncio.get_running_loop().create_future()
        short.on("disconnect", gone.set_result)
        await within(gone)
        assert reasons == ["auth expired"]
        assert long.connected
        (socket,) = io.sockets.sockets.values()
        socket.auth_expires_at = None  # never
        assert socket.extras is not None and socket.extras.expiry is None


async def test_control_messages_from_other_servers_are_checked() -> None:
    io = _server()
    async with aiosio.testing.serve(io) as server:
        client = await server.connect(auth={"user": "u42"}, retries=0)
        nsp = io.sockets
        on_control(nsp, "disconnect", 42, "x")  # malformed: ignored
        on_control(nsp, "unknown")
        nsp.on_server_side_emit([CONTROL, "disconnect", "x" * 300, "r"], None)
        assert client.connected
        gone = asyncio.get_running_loop().create_future()
        client.on("disconnect", gone.set_result)
        nsp.on_server_side_emit([CONTROL, "disconnect", "u42", "kicked"], None)
        await within(gone)


async def test_a_recovered_socket_gets_its_user_back() -> None:
    io = aiosio.Server(connection_state_recovery=True, presence={"interval": 60})
    io.use(lambda socket: setattr(socket, "user", socket.handshake.auth["user"]))
    io.on("connection", lambda socket: socket.join("lobby") if not socket.recovered else None)
    async with aiosio.testing.serve(io) as server:
        client = await server.connect(auth={"user": "u42"})
        io.to("lobby").emit("hello", 1)  # an offset to recover from
        got = asyncio.get_running_loop().create_future()
        client.on("hello", got.set_result)
        await within(got)
        back = asyncio.get_running_loop().create_future()
        client.on("connect", lambda: back.set_result(client.recovered))
        aiosio.testing.drop(client)
        assert await within(back) is True
        (socket,) = io.sockets.sockets.values()
        assert socket.recovered and socket.user == "u42"
        assert [m["user"] for m in await io.in_("lobby").presence()] == ["u42"]
        assert [s.id for s in await io.user_sockets("u42")] == [socket.id]


def test_to_user_needs_a_user() -> None:
    with pytest.raises(ValueError, match="needs a user id"):
        aiosio.Server().to_user(None)  # type: ignore[arg-type]
