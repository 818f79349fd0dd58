"""aiosio.serve.run: one server process's order of starting and stopping, in process,
with a real Starlette app beside Socket.IO and httpx as the client."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import aiosio
from aiosio.serve.asgi_app import AppFront
from aiosio.serve.lifespan import Lifespan, LifespanError
from aiosio.serve.run import Listen, run_server
from tests.support.waits import within


def make_app(events: list[str], front: list[AppFront]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append(f"shutdown, {len(front[0].connections)} connection(s) open")

    async def home(request: Request) -> PlainTextResponse:
        events.append("request")
        return PlainTextResponse(request.state.greeting)

    return Starlette(routes=[Route("/", home)], lifespan=lifespan)


async def test_startup_before_listening_and_shutdown_after_the_connections() -> None:
    events: list[str] = []
    fronts: list[AppFront] = []
    app = make_app(events, fronts)
    front = AppFront(app)
    fronts.append(front)
    io = aiosio.Server(serve_client=False)
    urls: asyncio.Queue[str] = asyncio.Queue()

    def ready(url: str) -> None:
        events.append("listening")
        urls.put_nowait(url)

    loop = asyncio.get_running_loop()
    running = asyncio.create_task(
        run_server(io, Listen(port=0), front=front, lifespan=Lifespan(app, "on"), ready=ready)
    )
    try:
        url = await within(urls.get(), 10)
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/")).text == "hello"
            polled = await client.get("/socket.io/?EIO=4&transport=polling")
            assert polled.text.startswith("0{")
            await io.close()  # the kept-alive connection is still open here
            await within(running, 10)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    assert events == ["startup", "listening", "request", "shutdown, 0 connection(s) open"]


async def test_a_failed_startup_never_listens() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    io = aiosio.Server(serve_client=False)
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(LifespanError, match="no database"):
            await run_server(
                io, Listen(port=0), front=AppFront(app), lifespan=Lifespan(app), ready=print
            )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    assert not io._listeners
