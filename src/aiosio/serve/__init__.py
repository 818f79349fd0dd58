"""The standalone front door: HTTP/1.1 and WebSocket on asyncio Protocols.

Each TCP connection starts as an :class:`~aiosio.serve.http.HTTPConnection` (requests,
keep-alive, pipelining, limits); a WebSocket handshake hands the transport over to a
:class:`~aiosio.serve.websocket.WebSocketConnection` (frames in, engine packets out).
Two Protocols rather than one with a mode flag: each keeps only the state of its own
protocol, and an idle WebSocket holds no HTTP parser or request state.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiosio.serve.codec import encode_response
from aiosio.serve.http import HTTPConnection
from aiosio.serve.websocket import WebSocketConnection
from aiosio.server.router import Limits

if TYPE_CHECKING:
    from aiosio.server.router import Router

__all__ = ["HTTPConnection", "Limits", "WebSocketConnection", "encode_response", "serve"]


async def serve(
    router: Router,
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    backlog: int = 2048,
    reuse_port: bool = False,
    ssl: Any = None,
) -> asyncio.Server:
    """Start listening; return the asyncio server (``close()`` it to stop accepting)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HTTPConnection(router),
        host,
        port,
        backlog=backlog,
        reuse_port=reuse_port,
        ssl=ssl,
    )
