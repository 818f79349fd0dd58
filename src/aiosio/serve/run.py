"""``aiosio serve``'s run of one server process: the order of starting and stopping.

Start: the application's lifespan startup, then the Socket.IO server's own startup
(adapters), then the port listens, so that no request comes before both are ready. Stop
(on SIGINT or SIGTERM, or ``io.close()``): the port stops accepting and the Socket.IO
sessions close (``io.close()``), then the application's connections (idle ones at once,
requests in flight within ``graceful_timeout``), then the lifespan shutdown.
"""

from __future__ import annotations

import logging
import os
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiosio.serve import serve

if TYPE_CHECKING:
    from aiosio.serve.asgi_app import AppFront
    from aiosio.serve.lifespan import Lifespan
    from aiosio.server.server import BaseServer

__all__ = ["Listen", "run_server", "ssl_context"]

logger = logging.getLogger("aiosio.cli")


@dataclass(frozen=True, slots=True)
class Listen:
    """Where to listen: ``host``/``port``, or a Unix socket ``uds``; TLS with ``ssl``."""

    host: str = "127.0.0.1"
    port: int = 3000
    uds: str | None = None
    ssl: ssl_module.SSLContext | None = None

    def url(self, bound: object) -> str:
        if self.uds is not None:
            return f"unix:{self.uds}"
        scheme = "https" if self.ssl is not None else "http"
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{shown}:{bound}"


def ssl_context(
    certfile: str, keyfile: str | None, password: str | None = None
) -> ssl_module.SSLContext:
    """A server TLS context from PEM files (``--ssl-certfile``/``--ssl-keyfile``)."""
    context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile, password)
    return context


async def run_server(
    io: BaseServer,
    listen: Listen,
    *,
    front: AppFront | None = None,
    lifespan: Lifespan | None = None,
    loop_name: str = "asyncio",
    ready: Callable[[str], None] | None = None,
    graceful_timeout: float = 5.0,
    signals: bool = True,
    announce: bool = True,
) -> None:
    """Serve ``io`` (and ``front``'s application beside it) until the server closes.

    ``signals``: SIGINT and SIGTERM stop the server (a worker process of
    :mod:`aiosio.workers` takes its orders from the front instead); ``announce``: log
    "serving on" and "stopped" (a worker's private port is not for the user).

    Raises:
        LifespanError: The application's startup failed (nothing listened).
    """
    if signals:
        io.handle_signals()  # the first signal closes gracefully, a second forces it
    if lifespan is not None:
        state = await lifespan.startup()
        if front is not None:
            front.state.update(state)
    try:
        await io.startup()
        listener = await serve(
            io.router, listen.host, listen.port, app=front, uds=listen.uds, ssl=listen.ssl
        )
        io.add_listener(listener)
        bound = listen.port
        if listen.uds is None:
            bound = listener.sockets[0].getsockname()[1]
        url = listen.url(bound)
        if announce:
            logger.info("serving on %s (%s, pid %d)", url, loop_name, os.getpid())
        if ready is not None:
            ready(url)
        await io.wait_closed()
    finally:
        await io.close()
        if front is not None:
            await front.close(graceful_timeout)
        if lifespan is not None:
            await lifespan.shutdown()
    if announce:
        logger.info("stopped")
