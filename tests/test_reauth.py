"""Reauthentication: client.reauthenticate(auth) against on_reauthenticate middlewares,
the handshake's auth updated, refusals, an expiry moved, and a flood bounded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio._reauth import REAUTHENTICATE
from aiosio.exceptions import ConnectionRefused
from aiosio.server.users import REAUTH_BURST
from tests.support.waits import within


def _server() -> aiosio.Server:
    io = aiosio.Server()

    @io.use
    def login(socket: aiosio.Socket) -> None:
        socket.user = socket.handshake.auth["user"]
        socket.auth_expires_at = time.time() + 0.3

    @io.on_reauthenticate
    async def check(socket: aiosio.Socket, auth: dict[str, Any]) -> None:
        if auth.get("token") != "good":
            raise ConnectionRefused("bad token", {"retry": False})
        socket.auth_expires_at = time.time() + 60

    return io


async def test_reauthenticate_updates_auth_and_moves_the_expiry() -> None:
    io = _server()
    async with aiosio.testing.serve(io) as server:
        client = await server.connect(auth={"user": "u1"})
        (socket,) = io.sockets.sockets.values()
        await client.reauthenticate({"user": "u1", "token": "good"})
        assert socket.handshake.auth == {"user": "u1", "token": "good"}
        assert client.auth == {"user": "u1", "token": "good"}
        assert socket.auth_expires_at is not None and socket.auth_expires_at > time.time() + 30
        await asyncio.sleep(0.4)  # past the first expiry: still connected
        assert client.connected


async def test_refused_credentials_leave_the_socket_as_it_was_then_it_expires() -> None:
    io = _server()
    async with aiosio.testing.serve(io) as server:
        client = await server.connect(auth={"user": "u1"}, retries=0)
        (socket,) = io.sockets.sockets.values()
        with pytest.raises(ConnectionRefused) as refused:
            await client.reauthenticate({"token": "bad"})
        assert refused.value.message == "bad token" and refused.value.data == {"retry": False}
        assert socket.handshake.auth == {"user": "u1"}
        reasons: list[str] = []
        socket.on("disconnect", reasons.append)
        gone = asyncio.get_running_loop().create_future()
        client.on("disconnect", gone.set_result)
        await within(gone)
        assert reasons == ["auth expired"]


async def test_a_flood_of_reauthentications_is_bounded() -> None:
    io = _server()
    calls = 0

    @io.on_reauthenticate
    def count(socket: aiosio.Socket, auth: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1

    async with aiosio.testing.serve(io) as server:
        client = await server.connect(auth={"user": "u1"})
        answers = await asyncio.gather(
            *(client.emit_with_ack(REAUTHENTICATE, {"token": "good"}, timeout=2) for _ in range(50))
        )
        assert answers[0] == {"ok": True}
        refused = [
            a for a in answers if a == {"ok": False, "message": "too many reauthentications"}
        ]
        assert len(refused) + calls == 50 and 1 <= calls <= REAUTH_BURST
        for _ in range(REAUTH_BURST):
            answer = await client.emit_with_ack(REAUTHENTICATE, {"token": "good"}, timeout=2)
        assert answer["message"] == "too many reauthentications"
        assert calls <= REAUTH_BURST


async def test_malformed_or_unsupported_reauthentication() -> None:
    io = aiosio.Server()
    async with aiosio.testing.serve(io) as server:
        client = await server.connect()
        answer = await client.emit_with_ack(REAUTHENTICATE, "not an object", timeout=2)
        assert answer == {"ok": False, "message": "auth must be an object"}
        with pytest.raises(ConnectionRefused, match="not supported"):
            await client.reauthenticate({"token": "x"})
