"""aiosio.app: what ``aiosio.Server`` adds over the server core, its front doors.

``start`` (listen in the running loop, the bound port back), ``serve`` (until closed),
``run`` (its own loop; refused inside a running one) and ``asgi_app`` (the ASGI app, its
lifespan starting and closing the server). Real servers on ports of 127.0.0.1 and real
clients: aiosio's own over the network, httpx for plain HTTP, ``run`` in a subprocess.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx
import pytest

import aiosio
from aiosio.asgi import ASGIApp
from aiosio.server.server import BaseServer
from tests.support.ports import free_port
from tests.support.servers import start_uvicorn
from tests.support.waits import within


def echo_server(**options: Any) -> aiosio.Server:
    io = aiosio.Server(**options)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda value: value)

    return io


async def echo_through(url: str, transport: str = "websocket") -> Any:
    client = aiosio.Client(url, transports=[transport], reconnection=False, force_new=True)
    await within(client.connect(), 5)
    try:
        return await within(client.emit_with_ack("echo", {"n": 1}, timeout=2))
    finally:
        await client.disconnect()


def test_server_is_the_core_with_front_doors() -> None:
    assert issubclass(aiosio.Server, BaseServer)
    assert aiosio.Server.__module__ == "aiosio.app"
    for name in ("start", "serve", "run", "asgi_app"):
        assert name in vars(aiosio.Server), name
        assert not hasattr(BaseServer, name), name


# -- start --------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_start_listens_and_returns_the_bound_port(transport: str) -> None:
    io = echo_server()
    port = await io.start("127.0.0.1", 0)
    try:
        assert port > 0 and io.accepting
        assert await echo_through(f"http://127.0.0.1:{port}", transport) == {"n": 1}
    finally:
        await io.close()
    assert not io.accepting
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)  # the listener closed with it


async def test_two_servers_get_ports_of_their_own() -> None:
    first, second = echo_server(), echo_server()
    ports = [await first.start("127.0.0.1", 0), await second.start("127.0.0.1", 0)]
    try:
        assert ports[0] != ports[1]
        for port in ports:
            assert await echo_through(f"http://127.0.0.1:{port}") == {"n": 1}
    finally:
        await first.close()
        await second.close()


async def test_start_passes_options_to_the_standalone_server_and_can_restart() -> None:
    io = echo_server()
    port = await io.start("127.0.0.1", 0)
    await io.close()
    again = await io.start("127.0.0.1", port)  # the same port is free again
    try:
        assert again == port
        assert await echo_through(f"http://127.0.0.1:{port}") == {"n": 1}
    finally:
        await io.close()


async def test_start_starts_the_adapters(redis_url: str, key: str) -> None:
    from aiosio.adapters.redis.pubsub import redis_adapter

    io = echo_server(adapter=redis_adapter(redis_url, key=key))
    port = await io.start("127.0.0.1", 0)
    try:
        assert io.of("/").adapter.healthy  # subscribed before start returned
        assert io.healthy
        assert await echo_through(f"http://127.0.0.1:{port}") == {"n": 1}
    finally:
        await io.close()


async def listening(port: int) -> None:
    """Return once ``port`` accepts connections (each refusal yields to the server)."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0)
            continue
        writer.close()
        return


# -- serve --------------------------------------------------------------------------------


async def test_serve_runs_until_close() -> None:
    io = echo_server()
    closers: list[asyncio.Task[None]] = []

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("stop", lambda: closers.append(asyncio.ensure_future(io.close())))

    port = free_port()
    serving = asyncio.create_task(io.serve("127.0.0.1", port))
    try:
        await within(listening(port), 5)
        client = aiosio.Client(f"http://127.0.0.1:{port}", transports=["websocket"])
        await within(client.connect(), 5)
        assert await within(client.emit_with_ack("echo", 7, timeout=2)) == 7
        assert not serving.done()
        client.emit("stop")  # a handler closes the server
        await within(serving, 5)
        assert closers and not io.accepting
        await client.disconnect()
    finally:
        if not serving.done():
            serving.cancel()
            await io.close()


# -- run ----------------------------------------------------------------------------------


async def test_run_refuses_a_running_loop() -> None:
    io = echo_server()
    with pytest.raises(RuntimeError, match=r"await io\.serve"):
        io.run("127.0.0.1", 0)
    assert not io.accepting


def test_run_serves_until_a_signal(tmp_path: Any) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import aiosio
        io = aiosio.Server()
        io.on("connection", lambda socket: socket.on("echo", lambda value: value))
        io.run("127.0.0.1", {port})
        print("returned", flush=True)
        """
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 15
        while "running on" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert f"running on http://127.0.0.1:{port}" in log.read_text()
        assert asyncio.run(echo_through(f"http://127.0.0.1:{port}")) == {"n": 1}
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
        text = log.read_text()
        assert "stopped" in text and "returned" in text
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- asgi_app -------------------------------------------------------------------------------


async def other_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":  # forwarded by the server's app: agree to everything
        while True:
            message = await receive()
            kind = message["type"].rpartition(".")[2]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    assert scope["type"] == "http"
    body = f"other:{scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_asgi_app_serves_the_server_and_other_requests() -> None:
    io = echo_server()
    app = io.asgi_app(other_app)
    assert isinstance(app, ASGIApp)
    assert app.router is io.router and io.router.other_app is other_app
    port, stop = await start_uvicorn(app)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/elsewhere")
        assert (response.status_code, response.text) == (200, "other:/elsewhere")
        assert io.accepting  # the lifespan started it
        assert await echo_through(f"http://127.0.0.1:{port}", "polling") == {"n": 1}
        assert await echo_through(f"http://127.0.0.1:{port}", "websocket") == {"n": 1}
    finally:
        await stop()
    assert not io.accepting  # the lifespan shutdown closed it


async def test_asgi_app_without_other_app_keeps_the_routers() -> None:
    io = echo_server()
    io.router.other_app = other_app
    app = io.asgi_app()
    assert app.router.other_app is other_app  # None leaves it alone


async def test_asgi_lifespan_starts_the_adapters(redis_url: str, key: str) -> None:
    from aiosio.adapters.redis.pubsub import redis_adapter

    io = echo_server(adapter=redis_adapter(redis_url, key=key))
    port, stop = await start_uvicorn(io.asgi_app())
    try:
        assert await echo_through(f"http://127.0.0.1:{port}") == {"n": 1}
        assert io.of("/").adapter.healthy  # requests are served after the startup
    finally:
        await stop()
    assert not io.accepting
