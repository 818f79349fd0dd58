"""Server: the server core with its two front doors, the public ``aiosio.Server``.

The core (:class:`~aiosio.server.server.BaseServer`: namespaces, engine, start-up and
shutdown) sits below the front doors, which are built on it; the methods that open a
front door (``start``, ``serve``, ``run``, ``asgi_app``) live here, above both, so that no
folder imports the one that imports it. The front doors are imported when first used: a
program that only uses the client or the ASGI app loads nothing it does not need.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from aiosio.server.collector import freeze_after_startup
from aiosio.server.server import BaseServer

if TYPE_CHECKING:
    from aiosio.asgi import ASGIApp

__all__ = ["Server"]

logger = logging.getLogger("aiosio.server")


class Server(BaseServer):
    """A Socket.IO server (``io`` in the Node documentation).

    Options are the Node options in snake_case, durations in seconds; the Engine.IO ones
    (``ping_interval``, ``cors_allowed_origins``, ``per_message_deflate``...) are
    :class:`~aiosio.server.engine.EngineOptions`. Everything but the front doors is
    :class:`~aiosio.server.server.BaseServer`.
    """

    webtransport_port: int | None = None
    """The UDP port of the HTTP/3 (WebTransport) endpoint, once started."""

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        webtransport: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> int:
        """Start the standalone server in the running loop; return the bound port.

        Args:
            host: The address to listen on.
            port: The TCP port; 0 picks a free one (the return value tells which).
            webtransport: ``{"certfile": ..., "keyfile": ...}`` (and ``port``, by default
                the TCP port's number) also opens an HTTP/3 endpoint for WebTransport
                (docs/webtransport.md; the ``webtransport`` extra).
            **options: For the listener: ``backlog`` (2048), ``reuse_port``, ``ssl`` (an
                ``ssl.SSLContext``), ``uds`` (a Unix socket path) or ``sock``.

        Returns:
            The port it listens on.

        Raises:
            OSError: The address is in use or cannot be bound.
        """
        from aiosio.serve import serve

        await self.startup()
        listener = await serve(self.router, host, port, **options)
        self.add_listener(listener)
        bound: int = listener.sockets[0].getsockname()[1]
        if webtransport is not None:
            from aiosio.serve.webtransport import serve_webtransport

            engine = self.engine
            if "webtransport" not in engine.transports:
                engine.transports = (*engine.transports, "webtransport")
            # By default on the TCP port's number, where browsers look for it.
            settings = {"port": bound, **webtransport}
            endpoint = await serve_webtransport(engine, self.router.path, host, settings)
            self.add_listener(cast(asyncio.Server, endpoint))  # close() and wait_closed()
            self.webtransport_port = endpoint.port
            logger.info("WebTransport on https://%s:%d (UDP)", host, endpoint.port)
        return bound

    async def serve(self, host: str = "127.0.0.1", port: int = 3000, **options: Any) -> None:
        """Serve until :meth:`close` is called (from a handler, a signal, another task).

        Args:
            host: The address to listen on.
            port: The TCP port.
            **options: As :meth:`start`.
        """
        await self.start(host, port, **options)
        await self.wait_closed()

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        log_level: str | None = "info",
        **options: Any,
    ) -> None:
        """Serve until SIGINT or SIGTERM, on uvloop when it is installed.

        The first signal closes the server gracefully (within ``shutdown_timeout``), a
        second one forces it, as uvicorn does on a second Ctrl+C.

        Args:
            host: The address to listen on.
            port: The TCP port.
            log_level: Unless the application configured logging already, records of this
                level and above (the start line among them) go to stderr; None leaves
                logging alone.
            **options: As :meth:`start`.

        Raises:
            RuntimeError: In a running event loop, where ``await io.serve()`` is the way.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "io.run() cannot be called from a running event loop; "
                "use 'await io.serve(host, port)' there instead"
            )
        if log_level is not None and not logging.getLogger().handlers:
            from aiosio.logs import configure

            configure(log_level)

        async def main() -> None:
            self.handle_signals()
            bound = await self.start(host, port, **options)
            freeze_after_startup()  # start-up's objects: never walked by the collector again
            shown = f"[{host}]" if ":" in host else host
            logger.info("running on http://%s:%d (Press CTRL+C to quit)", shown, bound)
            await self.wait_closed()
            logger.info("stopped")

        try:
            import uvloop
        except ImportError:
            asyncio.run(main())
        else:
            uvloop.run(main())

    def asgi_app(self, other_app: Any = None) -> ASGIApp:
        """This server as an ASGI application, for uvicorn or a mount in another app.

        Args:
            other_app: An ASGI application for every request that is not Socket.IO's
                (and the lifespan): aiosio in front of it.

        Returns:
            The ASGI application; its lifespan starts the server and closes it.
        """
        from aiosio.asgi import ASGIApp

        if other_app is not None:
            self.router.other_app = other_app
        # The lifespan starts the adapters (a Redis adapter subscribes) and closes it all.
        return ASGIApp(self.router, on_startup=self.startup, on_shutdown=self.close)
