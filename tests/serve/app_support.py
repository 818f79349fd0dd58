"""Helpers of the tests of an ASGI application behind the standalone server: a server
with an app on a port of its own, and an HTTP/1.1 response reader for raw sockets that
understands chunked and close-delimited bodies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiosio.serve import serve
from aiosio.serve.asgi_app import AppFront, AppOptions
from aiosio.server.router import Limits, Router


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks: list[bytes] = field(default_factory=list)


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked body (b"" for the last one, its CRLF read too)."""
    size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
    data = await reader.readexactly(size + 2)
    return data[:-2]


async def read_response(reader: asyncio.StreamReader, *, head_request: bool = False) -> Response:
    async with asyncio.timeout(10):
        status, headers = await read_head(reader)
        if head_request or status in (204, 304) or status < 200:
            return Response(status, headers, b"")
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while chunk := await read_chunk(reader):
                chunks.append(chunk)
            return Response(status, headers, b"".join(chunks), chunks)
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
            return Response(status, headers, body)
        return Response(status, headers, await reader.read())


@dataclass
class AppServer:
    router: Router
    front: AppFront
    port: int
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(
        default_factory=list
    )

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        pair = await asyncio.open_connection("127.0.0.1", self.port)
        self.connections.append(pair)
        return pair


@contextlib.asynccontextmanager
async def app_server(
    router: Router, app: Any, *, limits: Limits | None = None, **options: Any
) -> AsyncIterator[AppServer]:
    """``app`` behind ``router`` (an echo engine) on the standalone server."""
    if limits is not None:
        router.limits = limits
    front = AppFront(app, AppOptions(**options))
    listener = await serve(router, "127.0.0.1", 0, app=front)
    server = AppServer(router, front, listener.sockets[0].getsockname()[1])
    try:
        yield server
    finally:
        for _, writer in server.connections:
            writer.close()
        listener.close()
        await front.close(timeout=2.0)
        await router.engine.close()
        await listener.wait_closed()


def request(method: str, target: str, *headers: str, body: bytes | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: x", *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds: server state with no event to wait on (the
    transport paused reading), checked on each loop turn and bounded."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - server state with no event to wait on
            await asyncio.sleep(0.005)
