"""aiosio's own warning when the ASGI server has no WebSocket library.

A plain ``pip install uvicorn`` has none: uvicorn logs "Unsupported upgrade request" and
hands the handshake to the app as plain HTTP, so clients stay on long-polling and
WebSocket-only clients fail. uvicorn's ``ws="none"`` is exactly that case, with a real
uvicorn and a real client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

import aiosio

ServeASGI = Callable[..., Awaitable[int]]
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


class Warnings(logging.Handler):
    """The warnings of ``aiosio.asgi``, with an event for the first one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.seen.set()


@pytest.fixture
def warnings() -> Iterator[Warnings]:
    handler = Warnings()
    logger = logging.getLogger("aiosio.asgi")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def serve(uvicorn_app: ServeASGI, **config: Any) -> str:
    io = aiosio.Server()

    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: args)

    io.on("connection", on_connection)
    port = await uvicorn_app(io.asgi_app(), before_stop=io.close, **config)
    return f"http://127.0.0.1:{port}"


async def test_client_stays_on_polling_and_aiosio_says_why(
    uvicorn_app: ServeASGI, warnings: Warnings
) -> None:
    url = await serve(uvicorn_app, ws="none")
    client = aiosio.Client(url, reconnection=False, force_new=True)  # polling, then upgrade
    try:
        await client.connect()
        async with asyncio.timeout(10):
            await warnings.seen.wait()  # the upgrade probe came as HTTP
        assert await client.emit_with_ack("echo", 1, timeout=5) == 1
        assert client.transport == "polling"
    finally:
        await client.disconnect()
    assert len(warnings.messages) == 1
    assert "no WebSocket support" in warnings.messages[0]
    assert "aiosio[uvicorn]" in warnings.messages[0]


async def test_warned_once_for_many_websocket_only_attempts(
    uvicorn_app: ServeASGI, warnings: Warnings
) -> None:
    url = await serve(uvicorn_app, ws="none")
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(3):
            answer = await http.get("/socket.io/?EIO=4&transport=websocket", headers=UPGRADE)
            assert answer.status_code == 400
    assert len(warnings.messages) == 1


async def test_no_warning_when_the_server_has_websocket(
    uvicorn_app: ServeASGI, warnings: Warnings
) -> None:
    url = await serve(uvicorn_app)  # websockets is installed: ws="auto" takes it
    client = aiosio.Client(url, transports=["websocket"], reconnection=False, force_new=True)
    try:
        await client.connect()
        assert await client.emit_with_ack("echo", 1, timeout=5) == 1
    finally:
        await client.disconnect()
    assert warnings.messages == []
