"""The standalone front door: HTTP/1.1 and WebSocket on asyncio Protocols.

Each TCP connection starts as an :class:`~aiosio.serve.http.HTTPConnection` (requests,
keep-alive, pipelining, limits); a WebSocket handshake hands the transport over to a
:class:`~aiosio.serve.websocket.WebSocketConnection` (frames in, engine packets out).
Two Protocols rather than one with a mode flag: each keeps only the state of its own
protocol, and an idle WebSocket holds no HTTP parser or request state.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from aiosio.serve.codec import encode_response
from aiosio.serve.http import HTTPConnection
from aiosio.serve.websocket import WebSocketConnection
from aiosio.server.router import Limits

if TYPE_CHECKING:
    from aiosio.serve.asgi_app import AppFront
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
    app: AppFront | None = None,
    uds: str | None = None,
    sock: socket.socket | None = None,
) -> asyncio.Server:
    """Start listening; return the asyncio server (``close()`` it to stop accepting).

    With ``app`` (an ASGI application and how to serve it), or else the router's
    ``other_app``, the requests that are not the router's go to that application;
    ``uds`` listens on a Unix socket instead of ``host``/``port``, ``sock`` on a socket
    already bound.
    """
    loop = asyncio.get_running_loop()
    factory: Callable[[], asyncio.Protocol]
    if app is None and router.other_app is not None:
        from aiosio.serve.asgi_app import AppFront

        app = AppFront(router.other_app)  # streamed both ways, not read whole
    if app is None:
        factory = partial(HTTPConnection, router)
    else:
        from aiosio.serve.asgi_app import AppHTTPConnection

        factory = partial(AppHTTPConnection, router, app)
    if uds is not None:
        return await loop.create_unix_server(factory, uds, backlog=backlog, ssl=ssl)
    if sock is not None:
        return await loop.create_server(factory, sock=sock, backlog=backlog, ssl=ssl)
    return await loop.create_server(
        factory, host, port, backlog=backlog, reuse_port=reuse_port, ssl=ssl
    )
