"""Live sessions of the streams adapter: a server killed outright (SIGKILL) leaves its
sockets' sessions in Redis, so its client comes back to another server, recovered, and
receives every broadcast it missed, once and in order (the official socket.io-client); a
socket that leaves for good takes its session with it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

import socketio
from aiosio.adapters.redis.entries import decode_session
from tests.adapters.cluster_support import eventually, eventually_async
from tests.adapters.streams_support import OfficialClient, PyStreamsServer, node_ready
from tests.support.waits import within

ROOT = Path(__file__).parents[3]

pytestmark = pytest.mark.skipif(not node_ready(), reason="tests/interop's npm packages needed")


async def test_a_client_of_a_killed_server_comes_back_with_what_it_missed(
    redis_url: str, key: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.adapters.redis.crash_server", redis_url, key, key,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    b = await PyStreamsServer.start(redis_url, key, key, "b", live_sessions=True)
    client = None
    try:
        port = int(await within(process.stdout.readline(), 20))
        client = await OfficialClient.connect(f"http://127.0.0.1:{port}", room="r")
        for n in range(3):
            b.io.to("r").emit("ev", n)
        await eventually(lambda: client is not None and client.values("ev") == [0, 1, 2])
        process.kill()  # SIGKILL: no goodbye, no session written at the end
        await process.wait()
        await client.wait_for("disconnect")
        for n in range(3, 6):
            b.io.to("r").emit("ev", n)  # missed: its server is gone
        await client.call("point", to=b.url)
        connects = await client.wait_for("connect", 2)
        assert connects[1]["recovered"] is True
        assert connects[1]["id"] == connects[0]["id"]
        b.io.to("r").emit("ev", "end")
        await eventually(lambda: client is not None and "end" in client.values("ev"), 10)
        assert client.values("ev") == [0, 1, 2, 3, 4, 5, "end"]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if client is not None:
            await client.close()
        await b.close()


async def test_a_live_session_is_in_redis_while_connected_and_goes_with_a_clean_leave(
    redis_url: str, key: str
) -> None:
    server = await PyStreamsServer.start(redis_url, key, key, "s", live_sessions=True)
    redis = aioredis.Redis.from_url(redis_url)
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(server.url, transports=["websocket"], auth={"room": "r"})
        [pid] = server.pids
        assert isinstance(pid, str)
        stored: list[bytes | None] = [None]

        async def written() -> bool:
            stored[0] = await redis.get(f"sio:session:{pid}")
            return stored[0] is not None

        await eventually_async(written)
        session = decode_session(stored[0])
        assert session.sid == client.get_sid("/") and "r" in session.rooms
        assert session.data == {"server": "s"}
        for socket in list(server.io.sockets.sockets.values()):
            socket.disconnect()  # "server namespace disconnect", not recoverable: it goes

        async def deleted() -> bool:
            return await redis.get(f"sio:session:{pid}") is None

        await eventually_async(deleted)
    finally:
        await client.disconnect()
        await redis.aclose()
        await server.close()
