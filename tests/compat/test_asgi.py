"""compat.ASGIApp: python-socketio's static_files forms, socketio_path, other_asgi_app
and lifespan hooks, under a real uvicorn and on the standalone front door."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import aiosio
from aiosio import compat as socketio
from aiosio.compat.asgi import split_static_files
from tests.support.servers import start_uvicorn


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<p>index</p>")
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "app.js").write_text("console.log(1)")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    return tmp_path


def test_split_static_files(site: Path) -> None:
    folders, files = split_static_files(
        {
            "/": str(site / "index.html"),
            "/static": str(site / "public"),
            "/data": {"filename": str(site / "data.bin"), "content_type": "application/x-raw"},
        }
    )
    assert folders == {"/static": str(site / "public")}
    assert files["/"] == (site / "index.html", "text/html")
    assert files["/data"] == (site / "data.bin", "application/x-raw")
    with pytest.raises(ValueError, match="filename"):
        split_static_files({"/": {"content_type": "text/plain"}})
    with pytest.raises(ValueError, match="path or a dict"):
        split_static_files({"/": 42})


async def test_asgi_app_under_uvicorn_and_standalone(site: Path) -> None:
    sio = socketio.AsyncServer()
    events: list[str] = []

    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("from starlette")

    other = Starlette(routes=[Route("/hello", hello)])
    app = socketio.ASGIApp(
        sio,
        other,
        static_files={"/": str(site / "index.html"), "/static": str(site / "public")},
        socketio_path="/live",
        on_startup=lambda: events.append("startup"),
        on_shutdown=lambda: events.append("shutdown"),
    )

    @sio.event
    def ping(sid: str) -> str:
        return "pong"

    async def check(url: str) -> None:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/")).text == "<p>index</p>"
            assert (await http.head("/")).text == ""
            assert (await http.get("/static/app.js")).text == "console.log(1)"
            assert (await http.get("/hello")).text == "from starlette"
            assert (
                await http.get("/live/", params={"EIO": "4", "transport": "polling"})
            ).status_code == 200
        client = await aiosio.connect(url, path="/live", transports=["websocket"])
        assert await client.emit_with_ack("ping", timeout=5) == "pong"
        await client.disconnect()

    port, stop = await start_uvicorn(app, log_level="error")
    try:
        await check(f"http://127.0.0.1:{port}")
    finally:
        await stop()
    assert events == ["startup", "shutdown"]
    port = await sio.start("127.0.0.1", 0)
    try:
        await check(f"http://127.0.0.1:{port}")
    finally:
        await sio.shutdown()


async def test_missing_file_and_no_other_app(site: Path) -> None:
    sio = socketio.AsyncServer()
    app = socketio.ASGIApp(sio, static_files={"/gone": str(site / "nothing.html")})
    port, stop = await start_uvicorn(app, log_level="error")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/gone")).status_code == 404
            assert (await http.get("/other")).status_code == 404
    finally:
        await stop()
