"""ASGIApp: python-socketio's ASGI wrapper, over the native ASGI front door.

``ASGIApp(sio, other_asgi_app, static_files=, socketio_path=)`` makes the native server
with that path (see :meth:`aiosio.compat.AsyncServer.configure`) and answers with
:meth:`aiosio.Server.asgi_app`. ``static_files`` takes python-socketio's forms: a URL
prefix mapped to a folder goes to the native static files; a URL mapped to one file
(``{"/": "index.html"}``, or ``{"filename": ..., "content_type": ...}``) is answered by
:class:`StaticFiles`, made the native ``other_app`` so that both front doors serve it.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from aiosio.compat.server import AsyncServer

__all__ = ["ASGIApp", "StaticFiles", "split_static_files"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def split_static_files(
    static_files: Mapping[str, Any] | None,
) -> tuple[dict[str, str], dict[str, tuple[Path, str]]]:
    """Folders (for the native server) and single files: ``(folders, files)``.

    Raises:
        ValueError: An entry is neither a path nor a dict with a ``filename``.
    """
    folders: dict[str, str] = {}
    files: dict[str, tuple[Path, str]] = {}
    for url, entry in (static_files or {}).items():
        if isinstance(entry, Mapping):
            if "filename" not in entry:
                raise ValueError(f"static_files[{url!r}] needs a 'filename'")
            path, kind = Path(entry["filename"]), entry.get("content_type")
        elif isinstance(entry, str | os.PathLike):
            path, kind = Path(entry), None
        else:
            raise ValueError(f"static_files[{url!r}] must be a path or a dict")
        if path.is_dir():
            folders[url] = str(path)
        else:
            files[url] = (path, kind or mimetypes.guess_type(path.name)[0] or "text/plain")
    return folders, files


class StaticFiles:
    """An ASGI app answering GET and HEAD for single files, the rest to ``other_app``.

    It is the native server's ``other_app``, so both front doors serve the files.
    """

    def __init__(self, files: dict[str, tuple[Path, str]], other_app: Any = None) -> None:
        self.files = files
        self.other_app = other_app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
            found = self.files.get(scope["path"])
            if found is not None:
                await _send_file(found, scope["method"] == "HEAD", send)
                return
        if self.other_app is not None:
            await self.other_app(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"Not Found"})


class ASGIApp:
    """An ASGI application serving ``socketio_server`` (and ``other_asgi_app``).

    Args:
        socketio_server: The server to serve.
        other_asgi_app: The ASGI app that gets every other request, and the lifespan.
        static_files: URL paths mapped to files or folders (or to
            ``{"filename": ..., "content_type": ...}``), served as they are.
        socketio_path: The path clients connect to.
        on_startup: Called (awaited if a coroutine function) at the lifespan's startup.
        on_shutdown: Called at the lifespan's shutdown.

    Raises:
        ValueError: A ``static_files`` entry is neither a path nor a dict with a
            ``filename``.
    """

    def __init__(
        self,
        socketio_server: AsyncServer,
        other_asgi_app: Any = None,
        static_files: Mapping[str, Any] | None = None,
        socketio_path: str = "socket.io",
        on_startup: Callable[[], Any] | None = None,
        on_shutdown: Callable[[], Any] | None = None,
    ) -> None:
        folders, files = split_static_files(static_files)
        other = StaticFiles(files, other_asgi_app) if files else other_asgi_app
        io = socketio_server.configure(socketio_path, folders or None, other)
        self.server = socketio_server
        self.app = io.asgi_app()
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and (self.on_startup or self.on_shutdown):
            receive = self._lifespan_hooks(receive)
        await self.app(scope, receive, send)

    def _lifespan_hooks(self, receive: Receive) -> Receive:
        """Run ``on_startup``/``on_shutdown`` as their lifespan messages arrive."""

        async def hooked() -> dict[str, Any]:
            message = await receive()
            hook = {
                "lifespan.startup": self.on_startup,
                "lifespan.shutdown": self.on_shutdown,
            }.get(message["type"])
            if hook is not None:
                result = hook()
                if isinstance(result, Awaitable):
                    await result
            return message

        return hooked


async def _send_file(found: tuple[Path, str], head: bool, send: Send) -> None:
    path, kind = found
    try:
        body = path.read_bytes()
    except OSError:
        status, body, kind = 404, b"Not Found", "text/plain"
    else:
        status = 200
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
