"""The ASGI door (aiosio.asgi) under the other ASGI servers users run: hypercorn (in this
process) and granian (its own process, as it is run). Our client on both transports,
and the app beside Socket.IO answering its own routes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

import aiosio
from tests.support.ports import free_port
from tests.support.waits import within

APP = textwrap.dedent(
    """
    import aiosio
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route


    async def hello(request):
        return PlainTextResponse("beside")


    io = aiosio.Server(serve_client=False)


    @io.on("connection")
    def connection(socket):
        socket.on("echo", lambda data: data)


    app = io.asgi_app(Starlette(routes=[Route("/hello", hello)]))
    """
)


async def check(url: str) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(url + "/hello")).text == "beside"
    for transport in ("polling", "websocket"):
        client = await aiosio.connect(url, transports=[transport])
        try:
            assert client.transport == transport
            answer = await client.emit_with_ack("echo", {"under": transport}, timeout=10)
            assert answer == {"under": transport}
        finally:
            await client.disconnect()


async def test_under_hypercorn() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(APP, "hypercorn_app", "exec"), namespace)  # the same app as granian's
    io: aiosio.Server = namespace["io"]
    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(
        hypercorn_serve(namespace["app"], config, shutdown_trigger=stop.wait)
    )
    try:
        await within(_listening(port), 10)
        await check(f"http://127.0.0.1:{port}")
    finally:
        await io.close()
        stop.set()
        await within(task, 10)


async def _listening(port: int) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)  # the server is still starting: nothing to wait on
            continue
        writer.close()
        await writer.wait_closed()
        return


@pytest.mark.skipif(not Path(sys.executable).with_name("granian").exists(), reason="no granian")
async def test_under_granian(tmp_path: Path) -> None:
    (tmp_path / "granian_app.py").write_text(APP)
    port = free_port()
    with (tmp_path / "granian.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("granian")),
            *("--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)),
            *("--workers", "1", "--log-level", "warning", "granian_app:app"),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        await within(_listening(port), 20)
        await check(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            await within(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
