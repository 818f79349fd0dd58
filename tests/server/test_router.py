"""Router behind both front doors: the client bundle, static files, ``other_app``, 404."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest


async def other_app(scope: Any, receive: Any, send: Any) -> None:
    """A small ASGI app that describes the request it got."""
    if scope["type"] == "lifespan":  # uvicorn runs lifespan="on": ASGIApp forwards it here
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} {body.decode()}"
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-other", b"yes")],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


async def test_client_bundle(echo_server: Any, http: httpx.AsyncClient) -> None:
    server = await echo_server()
    response = await http.get(server.url + "/socket.io/socket.io.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript"
    assert b"io" in response.content
    assert (await http.get(server.url + "/socket.io/socket.io.min.js.map")).status_code == 200


async def test_client_bundle_can_be_off(echo_server: Any, http: httpx.AsyncClient) -> None:
    server = await echo_server(serve_client=False)
    assert (await http.get(server.url + "/socket.io/socket.io.js")).status_code == 404


async def test_static_files(echo_server: Any, http: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>home</p>")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.js").write_text("run()")
    (tmp_path / "a file.txt").write_text("spaced")
    (tmp_path.parent / "secret.txt").write_text("no")
    server = await echo_server(static_files={"/": tmp_path})
    home = await http.get(server.url + "/")
    assert (home.status_code, home.text) == (200, "<p>home</p>")
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    script = await http.get(server.url + "/app/main.js")
    assert (script.status_code, script.text) == (200, "run()")
    head = await http.head(server.url + "/app/main.js")
    assert (head.status_code, head.content) == (200, b"")
    assert (await http.get(server.url + "/a%20file.txt")).text == "spaced"  # path is decoded
    assert (await http.get(server.url + "/missing.txt")).status_code == 404
    # No way out of the folder.
    escape = await http.get(server.url + "/%2e%2e/secret.txt")
    assert escape.status_code == 404


async def test_other_app_gets_every_other_request(
    echo_server: Any, http: httpx.AsyncClient
) -> None:
    server = await echo_server(other_app=other_app)
    response = await http.post(server.url + "/api/items?x=1", content=b"payload")
    assert response.status_code == 201
    assert response.headers["x-other"] == "yes"
    assert response.text == "POST /api/items x=1 payload"
    # The engine keeps its path.
    engine = await http.get(server.engine_url(transport="polling"))
    assert engine.text.startswith("0{")


async def test_not_found(echo_server: Any, http: httpx.AsyncClient) -> None:
    server = await echo_server()
    response = await http.get(server.url + "/nothing/here")
    assert response.status_code == 404


async def test_custom_engine_path(echo_server: Any, http: httpx.AsyncClient) -> None:
    server = await echo_server(path="/realtime")
    assert server.router.path == "/realtime/"
    for path in ("/realtime/", "/realtime"):
        response = await http.get(server.url + path, params={"EIO": "4", "transport": "polling"})
        assert response.text.startswith("0{")
    assert (await http.get(server.url + "/socket.io/?EIO=4&transport=polling")).status_code == 404


def test_mount_at_moves_the_engine_path_under_a_prefix_once() -> None:
    from aiosio.server.engine import EngineServer
    from aiosio.server.router import Router
    from tests.conftest import EchoHandler

    router = Router(EngineServer(EchoHandler()))
    router.mount_at("/ws/")
    assert router.is_engine_path("/ws/socket.io/") and router.is_engine_path("/ws/socket.io")
    assert not router.is_engine_path("/socket.io/")
    # A path already under the prefix (mount("/socket.io", io.asgi_app())) stays.
    kept = Router(EngineServer(EchoHandler()))
    kept.mount_at("/socket.io")
    kept.mount_at("/")
    assert kept.path == "/socket.io/"
