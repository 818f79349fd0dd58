"""What both front doors share: which requests go to the engine, and where the rest go.

Requests under ``path`` go to the Engine.IO server, ``<path>socket.io.js`` (and its
minified and map variants) serve the official client bundle when ``serve_client`` is on,
``static_files`` map URL prefixes to folders, and anything else goes to ``other_app`` (any
ASGI application) or gets 404.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiosio.server.engine import EngineServer
from aiosio.server.http import HTTPRequest, HTTPResponse

__all__ = ["PACKAGED_NPM", "Limits", "Router", "find_client_bundle", "not_found"]

logger = logging.getLogger("aiosio.router")


def not_found() -> HTTPResponse:
    """A plain 404."""
    return HTTPResponse(404, b"Not Found", [("Content-Type", "text/plain")])


_BUNDLE_FILES = ("socket.io.js", "socket.io.min.js", "socket.io.js.map", "socket.io.min.js.map")


# Where a wheel carries the pinned npm files (hatch_build.py puts them there at build time).
PACKAGED_NPM = Path(__file__).resolve().parents[1] / "_npm"


def find_client_bundle() -> Path | None:
    """Where the official ``socket.io-client`` dist folder is.

    Looks at ``AIOSIO_CLIENT_DIST``, then ``node_modules`` folders from the working
    directory upwards (an application's own pin wins), then the copy an installed wheel
    carries, then the folders ``make env`` fills in a source checkout (which has no copy:
    the files come from the npm registry and are never committed).
    """
    env = os.environ.get("AIOSIO_CLIENT_DIST")
    candidates = [Path(env)] if env else []
    here = Path.cwd()
    for folder in (here, *here.parents):
        candidates.append(folder / "node_modules" / "socket.io-client" / "dist")
    candidates.append(PACKAGED_NPM / "socket.io-client")
    repo = Path(__file__).resolve().parents[3]
    for sub in ("examples/chat", "tests/interop"):
        candidates.append(repo / sub / "node_modules" / "socket.io-client" / "dist")
    for candidate in candidates:
        if (candidate / "socket.io.js").is_file():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class Limits:
    """HTTP limits of the front doors (docs/limits.md); sizes in bytes, durations in seconds.

    The standalone server enforces them all. Under ASGI the server in front (uvicorn)
    reads the request head, so its own timeouts stand in for ``header_timeout`` and
    ``close_timeout``; the size limits are checked again on requests to the engine, and
    ``body_timeout`` applies.

    Attributes:
        max_head: Request line and headers together (431 beyond).
        max_line: The request target (414 beyond) or one header line (431 beyond).
        max_headers: Header lines per request (431 beyond).
        header_timeout: From accept, or from the last answer on a kept-alive connection,
            to the end of the request head; then the connection is closed (slowloris).
        body_timeout: Between two chunks of a request body; then 408, and the polling
            session the request is for is closed.
        close_timeout: How long a closing connection may take to send what it still
            has to a peer that does not read; then it is aborted. Also how long
            ``io.close()`` keeps the port open for polling clients to fetch their CLOSE.
    """

    max_head: int = 16 * 1024
    max_line: int = 8 * 1024
    max_headers: int = 100
    header_timeout: float = 20.0
    body_timeout: float = 20.0
    close_timeout: float = 5.0


class IdleClosable(Protocol):
    """What the router asks of a front door's HTTP connection when the server closes."""

    def close_if_idle(self) -> None:
        """Close now if no request is in progress, else after the answer owed."""


class Router:
    """Routes requests of a front door."""

    def __init__(
        self,
        engine: EngineServer,
        *,
        path: str = "/socket.io/",
        serve_client: bool = True,
        static_files: Mapping[str, str | os.PathLike[str]] | None = None,
        other_app: Any = None,
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.limits = limits or Limits()
        self.path = "/" + path.strip("/") + "/"
        self._bare = self.path[:-1]
        self.serve_client = serve_client
        self.static_files = {
            prefix: Path(folder) for prefix, folder in (static_files or {}).items()
        }
        self.other_app = other_app
        # Exact paths answered by a function (the metrics page, the Admin UI's redirect).
        self.routes: dict[str, Callable[[HTTPRequest], HTTPResponse]] = {}
        self._bundle: Path | None = None
        # The front door's HTTP connections (not WebSockets: the engine closes those), so
        # that closing the server ends the idle ones instead of leaving them to the client.
        self.connections: set[IdleClosable] = set()

    def close_idle(self) -> None:
        """The server is closing: end every HTTP connection once nothing is owed on it."""
        for connection in list(self.connections):
            connection.close_if_idle()

    def mount_at(self, prefix: str) -> None:
        """Answer Socket.IO under ``prefix`` too: the standalone server serving an app that
        mounts this router's ASGI app at ``prefix``. A ``path`` already under the prefix
        (``mount("/socket.io", ...)``) is kept; otherwise the prefix goes in front of it,
        which is where clients of the mounted app connect (docs/asgi.md)."""
        prefix = "/" + prefix.strip("/")
        if prefix == "/" or self.path.startswith(prefix + "/"):
            return
        self.path = prefix + self.path
        self._bare = self.path[:-1]

    def is_engine_path(self, path: str) -> bool:
        """Whether a request path belongs to the Engine.IO endpoint."""
        return path == self.path or path == self._bare

    def claims(self, path: str) -> bool:
        """Whether ``path`` is the Engine.IO endpoint or one of the client bundle's files.

        The ASGI app asks this to tell which of a mounted request's two paths (with or
        without the mount prefix) the user meant.
        """
        if self.is_engine_path(path):
            return True
        return (
            self.serve_client
            and path.startswith(self.path)
            and path[len(self.path) :] in _BUNDLE_FILES
        )

    def handle_http(
        self, request: HTTPRequest, respond: Callable[[HTTPResponse], None]
    ) -> Callable[[], None] | None:
        """Answer any HTTP request; see :meth:`EngineServer.handle_request` for the result."""
        if self.is_engine_path(request.path):
            return self.engine.handle_request(request, respond)
        local = self.local_response(request)
        if local is not None:
            respond(local)
            return None
        if self.other_app is not None:
            task = self.engine.spawn(self._other(request, respond))

            def abort() -> None:
                task.cancel()

            return abort
        respond(not_found())
        return None

    def local_response(self, request: HTTPRequest) -> HTTPResponse | None:
        """The client bundle or a static file for ``request``, or None if it is neither."""
        path = request.path
        route = self.routes.get(path)
        if route is not None:
            return route(request)
        if self.serve_client and path.startswith(self.path):
            name = path[len(self.path) :]
            if name in _BUNDLE_FILES:
                return self._client_file(name)
        return self._static(path, request.method)

    def too_large(self, request: HTTPRequest) -> HTTPResponse:
        """The 413 answer to a request body over ``max_http_buffer_size``."""
        if self.is_engine_path(request.path):
            return self.engine.polling.refuse_too_large(request)
        return HTTPResponse(413, b"Payload Too Large", [("Content-Type", "text/plain")])

    def begin_post(self, request: HTTPRequest) -> HTTPResponse | None:
        """The head of a POST has come: a refusal to send at once, or None to read on."""
        if self.is_engine_path(request.path):
            return self.engine.begin_post(request)
        return None

    def abandon(self, request: HTTPRequest) -> None:
        """A request body never came whole (the client left or stalled): the polling
        session it was for is closed."""
        if self.is_engine_path(request.path):
            self.engine.polling.abandon(request)

    def _client_file(self, name: str) -> HTTPResponse:
        if self._bundle is None:
            self._bundle = find_client_bundle()
        if self._bundle is None:
            return HTTPResponse(404, b"socket.io-client is not installed (npm)", [])
        file = self._bundle / name
        if not file.is_file():
            return HTTPResponse(404, b"Not Found", [])
        kind = "application/json" if name.endswith(".map") else "application/javascript"
        return HTTPResponse(
            200, file.read_bytes(), [("Content-Type", kind), ("Cache-Control", "max-age=3600")]
        )

    def _static(self, path: str, method: str) -> HTTPResponse | None:
        if method not in ("GET", "HEAD"):
            return None
        for prefix, folder in self.static_files.items():
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :].lstrip("/") or "index.html"
            target = (folder / rest).resolve()
            root = folder.resolve()
            if root not in target.parents and target != root:
                return HTTPResponse(404, b"Not Found", [])
            if target.is_dir():
                target = target / "index.html"
            if target.is_file():
                kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind == "application/javascript":
                    kind += "; charset=utf-8"
                body = b"" if method == "HEAD" else target.read_bytes()
                return HTTPResponse(200, body, [("Content-Type", kind)])
        return None

    async def _other(self, request: HTTPRequest, respond: Callable[[HTTPResponse], None]) -> None:
        """Run ``other_app`` (ASGI) for one buffered request of the standalone server."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.scheme,
            "path": request.path,
            "raw_path": request.path.encode(),
            "query_string": request.raw_query.encode(),
            "root_path": "",
            "headers": [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
            ],
            "client": request.client,
            "server": None,
        }
        sent = False
        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() != b"content-length":
                        headers.append((name.decode("latin-1"), value.decode("latin-1")))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.other_app(scope, receive, send)
        except Exception:
            logger.exception("other_app failed")
            respond(HTTPResponse(500, b"Internal Server Error", []))
            return
        respond(HTTPResponse(status, b"".join(chunks), headers))
