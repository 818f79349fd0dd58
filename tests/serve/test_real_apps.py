"""``aiosio serve main:app`` with real applications (tests/serve/real_apps.py): FastAPI,
Starlette and Django, each with Socket.IO mounted and served on one port, found and run
as the command line does (find_served, the options' defaults, run_server). Driven by
httpx, the ``websockets`` client, the official socket.io-client (Node) and our client."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

import aiosio
from aiosio.cli import make_parser
from aiosio.serve.options import app_settings, listen_of
from aiosio.serve.run import run_server
from aiosio.targets import find_served
from tests.serve import real_apps
from tests.support.waits import within

INTEROP = Path(__file__).parents[1] / "interop"
NODE_CLIENT = INTEROP / "app_client.js"
NODE_READY = (INTEROP / "node_modules" / "socket.io-client").is_dir()


@asynccontextmanager
async def serving(target: Any, *argv: str) -> AsyncIterator[str]:
    """Serve ``target`` as ``aiosio serve`` does, on a port of its own; its URL."""
    served = find_served(target)
    assert served is not None
    args = make_parser().parse_args(["serve", "x:app", "--port", "0", *argv])
    front, lifespan = app_settings(served.io, served.app, served.prefix, args)
    urls: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(
        run_server(
            served.io, listen_of(args), front=front, lifespan=lifespan, ready=urls.put_nowait
        )
    )
    try:
        yield await within(urls.get(), 10)
    finally:
        await served.io.close()
        await within(task, 10)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def node_client(url: str, path: str, transport: str) -> list[str]:
    """The official client's answers to three acknowledged ``echo`` emits."""
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT), url, path, transport, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await within(process.communicate(), 40)
    lines = stdout.decode().splitlines()
    assert process.returncode == 0, lines
    return lines


async def our_client(url: str, path: str, transport: str) -> Any:
    client = await aiosio.connect(url, path=path, transports=[transport])
    try:
        return await client.emit_with_ack("echo", {"from": "aiosio"}, timeout=10)
    finally:
        await client.disconnect()


needs_node = pytest.mark.skipif(not NODE_READY, reason="tests/interop not installed (make env)")


@needs_node
async def test_fastapi_with_socketio_mounted() -> None:
    app, _, resource, step = real_apps.fastapi_app()
    async with serving(app, "--no-access-log") as url:
        assert resource.events == ["opened"]  # the lifespan ran before the port listened
        async with httpx.AsyncClient(base_url=url) as client:
            # Routes with dependency injection, the lifespan's resource in request state.
            item = (await client.get("/items/7", params={"q": "x"})).json()
            assert item == {"id": 7, "q": "x", "db": "open"}
            assert (await client.get("/items/seven")).status_code == 422
            # 5 MB streamed up, in pieces (flow control), hashed by the app as it reads.
            data = bytes(range(256)) * (5 * 1024 * 1024 // 256)

            async def pieces() -> AsyncIterator[bytes]:
                for start in range(0, len(data), 256 * 1024):
                    yield data[start : start + 256 * 1024]

            uploaded = (await client.post("/upload", content=pieces())).json()
            assert uploaded == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            # Server-sent events, event by event: the second is made after the first came.
            async with client.stream("GET", "/events") as events:
                assert events.headers["content-type"].startswith("text/event-stream")
                lines = events.aiter_lines()
                assert await within(anext(lines)) == "data: first"
                assert await within(anext(lines)) == ""
                step.set()
                assert await within(anext(lines)) == "data: second"
        # The app's WebSocket route.
        async with ws_connect(url.replace("http", "ws") + "/chat") as ws:
            await ws.send("shout")
            assert await within(ws.recv()) == "SHOUT"
        # Socket.IO where the app mounts it: the official client on both transports, ours.
        for transport in ("polling", "websocket"):
            lines = await node_client(url, "/ws/socket.io/", transport)
            assert [json.loads(line)["n"] for line in lines[:3]] == [0, 1, 2]
            assert lines[3] == f"done {transport}"
        assert await our_client(url, "/ws/socket.io/", "websocket") == {"from": "aiosio"}
    assert resource.events == ["opened", "closed"]


@needs_node
async def test_starlette_with_socketio_mounted() -> None:
    app, _ = real_apps.starlette_app()
    async with serving(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/")).text == "Hello, world!"
            # the same connection again: kept alive
            assert (await client.head("/")).headers["content-length"] == "13"
        async with ws_connect(url.replace("http", "ws") + "/chat") as ws:
            await ws.send("you")
            assert await within(ws.recv()) == "welcome you"
            with pytest.raises(ConnectionClosed) as closed:
                await within(ws.recv())
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4321
        lines = await node_client(url, "/realtime/socket.io/", "websocket")
        assert lines[-1] == "done websocket"
        assert await our_client(url, "/realtime/socket.io/", "polling") == {"from": "aiosio"}


@needs_node
async def test_django_behind_io_asgi_app() -> None:
    app, _ = real_apps.django_app()
    async with serving(app) as url:  # Django has no lifespan: auto goes on without
        async with httpx.AsyncClient(base_url=url) as client:
            hello = await client.get("/hello/")
            assert hello.json() == {"hello": "django", "path": "/hello/"}
            uploaded = await client.post("/upload/", content=b"x" * 100_000)
            assert uploaded.json() == {"size": 100_000}
            assert (await client.get("/nowhere/")).status_code == 404
        lines = await node_client(url, "/socket.io/", "polling")
        assert lines[-1] == "done polling"
        assert await our_client(url, "/socket.io/", "websocket") == {"from": "aiosio"}
