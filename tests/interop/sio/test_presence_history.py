"""The official socket.io-client (tests/interop/presence_client.js) against users,
presence, room history and reauthentication: a rewind then live events in order, the
presence diff pushed, the documented reauthentication helper refused then accepted (the
handshake's auth updated), and the disconnection when the refreshed credentials expire."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiosio
from aiosio.exceptions import ConnectionRefused
from tests.interop.sio.sio_helpers import INTEROP, NODE, requires_node
from tests.support.waits import within

pytestmark = requires_node


async def test_official_client_rewinds_sees_presence_and_reauthenticates() -> None:
    io = aiosio.Server(presence={"interval": 0.05, "event": "presence"})
    io.sockets.history("room", max_len=5)
    reasons: list[str] = []
    auths: list[Any] = []

    @io.use
    def login(socket: aiosio.Socket) -> None:
        socket.user = socket.handshake.auth["user"]
        socket.auth_expires_at = time.time() + 60

    @io.on_reauthenticate
    def refresh(socket: aiosio.Socket, auth: dict[str, Any]) -> None:
        if auth.get("token") != "good":
            raise ConnectionRefused("bad token")
        socket.auth_expires_at = time.time() + 0.3  # short: the test waits for it

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.join("room", rewind=5)
        socket.on("disconnect", reasons.append)
        socket.on(
            "ready", lambda: (auths.append(socket.handshake.auth), io.to("room").emit("news", 3))
        )

    port = await io.start(port=0)
    try:
        for n in range(3):
            io.to("room").emit("news", n)
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE, str(INTEROP / "presence_client.js"), f"http://127.0.0.1:{port}",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        lines = [json.loads(line) async for line in _lines(process.stdout)]
        await within(process.wait(), seconds=10)
    finally:
        await io.close()
    news = [line["n"] for line in lines if line["ev"] == "news"]
    assert news == [0, 1, 2, 3]  # the replay, then the live one
    presence = [line["diff"] for line in lines if line["ev"] == "presence"]
    assert presence == [
        {"room": "room", "joined": [{"user": "ann", "sockets": 1, "info": None}], "left": []}
    ]
    reauths = [line for line in lines if line["ev"] == "reauth"]
    assert reauths == [
        {"ev": "reauth", "ok": False, "message": "bad token"},
        {"ev": "reauth", "ok": True, "auth": {"user": "ann", "token": "good"}},
    ]
    assert auths == [{"user": "ann", "token": "good"}]
    assert lines[-1] == {"ev": "disconnect", "reason": "io server disconnect"}
    assert reasons == ["auth expired"]


async def _lines(stream: asyncio.StreamReader) -> Any:
    async with asyncio.timeout(20):
        while line := await stream.readline():
            yield line
