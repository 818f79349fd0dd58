"""``io.asgi_app()`` mounted inside a real Starlette app at ``/socket.io``, as users write it.

Before the fix the mounted app routed on the path without the prefix (``/``) and every
client got 404 unless the server was made with ``path="/"``. Served by a real uvicorn;
reached by our client and by the official socket.io-client on every transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import aiosio
from tests.interop.sio.sio_app import build_server
from tests.interop.sio.sio_helpers import MODES, node_driver, requires_node

ServeASGI = Callable[..., Awaitable[int]]


def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from starlette")


async def mounted(uvicorn_app: ServeASGI, **options: Any) -> tuple[aiosio.Server, str]:
    """A Socket.IO server mounted at /socket.io in a Starlette app; its base URL."""
    io, _ = build_server(**options)
    app = Starlette(routes=[Route("/hello", hello), Mount("/socket.io", app=io.asgi_app())])
    port = await uvicorn_app(app, before_stop=io.close)
    return io, f"http://127.0.0.1:{port}"


async def test_fastapi_mount_as_the_docs_write_it(uvicorn_app: ServeASGI) -> None:
    """docs/asgi.md's FastAPI example: mount, and close the server in the lifespan."""
    io, _ = build_server()
    closed: list[bool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await io.close()
        closed.append(True)

    app = FastAPI(lifespan=lifespan)
    app.mount("/socket.io", io.asgi_app())

    @app.get("/hello")
    def fastapi_hello() -> dict[str, str]:
        return {"hello": "fastapi"}

    port = await uvicorn_app(app)
    client = aiosio.Client(f"http://127.0.0.1:{port}", reconnection=False, force_new=True)
    try:
        await client.connect()
        assert await client.emit_with_ack("echo", "fast", timeout=5) == "fast"
    finally:
        await client.disconnect()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/hello")).json() == {"hello": "fastapi"}


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_our_client_through_the_mount(uvicorn_app: ServeASGI, transport: str) -> None:
    _, url = await mounted(uvicorn_app)
    client = aiosio.Client(url, transports=[transport], reconnection=False, force_new=True)
    try:
        await client.connect()
        assert client.transport == transport
        assert await client.emit_with_ack("echo", "through", 2, timeout=5) == ("through", 2)
    finally:
        await client.disconnect()


async def test_bundle_and_other_routes_through_the_mount(uvicorn_app: ServeASGI) -> None:
    _, url = await mounted(uvicorn_app)
    async with httpx.AsyncClient(base_url=url) as http:
        bundle = await http.get("/socket.io/socket.io.js")
        assert bundle.status_code == 200
        assert bundle.headers["content-type"].startswith("application/javascript")
        assert b"engine.io" in bundle.content.lower()
        assert (await http.get("/hello")).text == "hello from starlette"
        assert (await http.get("/socket.io/nothing-here")).status_code == 404


async def test_relative_path_option_still_works(uvicorn_app: ServeASGI) -> None:
    """Mounted at /realtime with the default path: clients use /realtime/socket.io/."""
    io, _ = build_server()
    app = Starlette(routes=[Mount("/realtime", app=io.asgi_app())])
    port = await uvicorn_app(app, before_stop=io.close)
    client = aiosio.Client(
        f"http://127.0.0.1:{port}", path="/realtime/socket.io", reconnection=False, force_new=True
    )
    try:
        await client.connect()
        assert await client.emit_with_ack("echo", "x", timeout=5) == "x"
    finally:
        await client.disconnect()


@requires_node
@pytest.mark.interop
@pytest.mark.parametrize("mode", MODES)
async def test_official_client_through_the_mount(uvicorn_app: ServeASGI, mode: str) -> None:
    _, url = await mounted(uvicorn_app)
    async with node_driver("connect", url, mode) as driver:
        lines = await driver.finish()
    assert lines.one("connect", client="a")
    expected = "polling" if mode == "polling" else "websocket"
    assert lines.one("transport", client="a")["name"] == expected
