"""One HTTP request of the application on the standalone server: its ASGI 3 cycle.

:class:`HTTPCycle` is what the app's ``receive`` and ``send`` talk to. The connection
(:class:`~aiosio.serve.asgi_app.AppHTTPConnection`) feeds it the request body as it is
parsed and starts it when the answers before it are out (pipelining stays in order);
the cycle writes the response to the connection as the app sends it, each message in one
write, and tells the connection when the response is complete so that the next request
may be answered.

Flow control both ways: the connection stops reading while more than
:data:`BODY_HIGH_WATER` bytes of body wait for the app's ``receive()``, and ``send()``
waits while the transport's write buffer is over its limit (the client does not read).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from typing import Any, Protocol

from aiosio.serve.codec import status_line

__all__ = ["BODY_HIGH_WATER", "AppWaits", "ClientDisconnected", "CycleOwner", "HTTPCycle"]

logger = logging.getLogger("aiosio.serve")
access_logger = logging.getLogger("aiosio.access")

BODY_HIGH_WATER = 64 * 1024  # request body bytes held for the app before reading pauses

Message = MutableMapping[str, Any]
App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

_NO_BODY_STATUS = frozenset({204, 304})
_date_line: tuple[int, bytes] = (0, b"")  # the Date header of the current second


def date_line() -> bytes:
    """``date: <now>``, made once a second (RFC 9110 wants it from a server with a clock)."""
    global _date_line
    now = int(time.time())
    if _date_line[0] != now:
        _date_line = (now, b"date: " + formatdate(now, usegmt=True).encode())
    return _date_line[1]


_DISCONNECT: Message = {"type": "http.disconnect"}


class ClientDisconnected(OSError):
    """``send()`` after the client went away (ASGI spec 2.4: a subclass of OSError)."""


class CycleOwner(Protocol):
    """What a cycle needs of its connection."""

    def cycle_write(self, data: bytes) -> bool:
        """Write ``data``; False if the client does not read (``send`` then waits)."""

    def cycle_read(self) -> None:
        """Body bytes were handed to the app: reading may resume."""

    def cycle_done(self, cycle: HTTPCycle) -> None:
        """The response is complete (or failed): the next request may be answered."""

    def cycle_abort(self) -> None:
        """The response cannot be completed: end the connection."""


class AppWaits:
    """Mixin of the app's cycles (HTTP here, WebSocket in :mod:`.app_websocket`): the app's
    ``receive()`` waits on ``_waiter`` for input, its ``send()`` on ``_drain`` for the
    client to read again; each is released once, whatever releases it first."""

    # The slots are the cycles' own (a mixin with slots would clash with their bases'
    # layouts): mypy, which checks each assignment against this class's empty __slots__,
    # is told so at the two assignments.
    __slots__ = ()
    _waiter: asyncio.Future[None] | None
    _drain: asyncio.Future[None] | None

    def writable(self) -> None:
        """The client reads again: a waiting ``send()`` goes on."""
        drain, self._drain = self._drain, None  # type: ignore[misc]
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None  # type: ignore[misc]
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class HTTPCycle(AppWaits):
    """An ASGI ``http`` request/response cycle (receive, send) over a connection."""

    __slots__ = (
        "_chunked",
        "_chunks",
        "_continue",
        "_drain",
        "_headers",
        "_last_given",
        "_sent_head",
        "_waiter",
        "buffered",
        "complete",
        "disconnected",
        "head",
        "keep_alive",
        "more_body",
        "owner",
        "scope",
        "started",
        "status",
        "task",
    )

    def __init__(
        self,
        owner: CycleOwner,
        scope: MutableMapping[str, Any],
        *,
        keep_alive: bool,
        expect_continue: bool,
    ) -> None:
        self.owner = owner
        self.scope = scope
        self.keep_alive = keep_alive
        self.head = scope["method"] == "HEAD"
        self._continue = expect_continue  # a 100 Continue is owed on the first read
        self._chunks: list[bytes] = []
        self.buffered = 0  # body bytes received and not yet given to the app
        self.more_body = True  # the request body has not ended
        self._last_given = False  # the app has had the end of the body
        self.disconnected = False
        self.started = False  # http.response.start came
        self.complete = False  # the last body message went out
        self.status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._sent_head = False
        self._chunked = False
        self._waiter: asyncio.Future[None] | None = None  # receive() waiting for input
        self._drain: asyncio.Future[None] | None = None  # send() waiting for the client
        self.task: asyncio.Task[None] | None = None

    # -- from the connection ----------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """A piece of the request body."""
        self._chunks.append(data)
        self.buffered += len(data)
        self._wake()

    def end(self) -> None:
        """The request body is complete."""
        self.more_body = False
        self._wake()

    def disconnect(self) -> None:
        """The client went away (or the connection is being ended)."""
        self.disconnected = True
        self._wake()
        self.writable()

    # -- running the app --------------------------------------------------------------

    def start(self, app: App, done: Callable[[HTTPCycle], None]) -> None:
        """Run ``app`` for this request in a task; ``done`` when it has returned."""
        self.task = asyncio.get_running_loop().create_task(self._run(app, done))

    async def _run(self, app: App, done: Callable[[HTTPCycle], None]) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            self._failed()
            raise
        except BaseException as exc:
            if self.disconnected:
                logger.debug("the application failed after the client left: %r", exc)
            else:
                logger.error("exception in the ASGI application", exc_info=exc)
            self._failed()
            if not isinstance(exc, Exception):
                raise
        else:
            if not self.complete:
                if not self.disconnected:
                    logger.error(
                        "the ASGI application returned without %s its response",
                        "completing" if self.started else "starting",
                    )
                self._failed()
        finally:
            done(self)

    def _failed(self) -> None:
        """The app failed or returned early: a clean 500 if nothing was sent, else the end
        of the connection (the client sees a cut response, never a wrong one)."""
        if self.complete or self.disconnected:
            return
        if self._sent_head:
            self.complete = True
            self.owner.cycle_abort()
            return
        self.started = self.complete = True
        self.status = 500
        body = b"Internal Server Error"
        self.owner.cycle_write(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        self.keep_alive = False
        self.owner.cycle_done(self)

    # -- ASGI receive -----------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ``http.request`` piece of the body, then ``http.disconnect`` once the
        client has gone or the response is complete."""
        while True:
            if self.disconnected:
                return {"type": "http.disconnect"}
            if not self._last_given and (self.buffered or not self.more_body):
                chunks = self._chunks
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self.buffered = 0
                more = self.more_body
                self._last_given = not more
                if more:
                    self.owner.cycle_read()
                return {"type": "http.request", "body": body, "more_body": more}
            if self._last_given and self.complete:
                return {"type": "http.disconnect"}
            if self._continue and not self.started:
                self._continue = False
                self.owner.cycle_write(b"HTTP/1.1 100 Continue\r\n\r\n")
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter

    # -- ASGI send --------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """``http.response.start`` then ``http.response.body`` messages, each written at
        once (a streamed response reaches the client piece by piece)."""
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = int(message["status"])
            self._headers = list(message.get("headers", ()))
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r} in an http cycle")
        if not self.started:
            raise RuntimeError("http.response.body before http.response.start")
        if self.complete:
            raise RuntimeError("http.response.body after the response was complete")
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        data = b"" if self._sent_head else self._head(len(body), more)
        if self.head or self.status in _NO_BODY_STATUS:
            pass
        elif self._chunked:
            if body:
                data += b"%x\r\n%s\r\n" % (len(body), body)
            if not more:
                data += b"0\r\n\r\n"
        else:
            data += body
        if not more:
            self.complete = True
            self._wake()  # a receive() waiting for the end gets http.disconnect
        reading = self.owner.cycle_write(data) if data else True
        if not more:
            self.owner.cycle_done(self)
        elif not reading and not self.disconnected:
            drain = self._drain = asyncio.get_running_loop().create_future()
            await drain
            if self.disconnected:
                raise ClientDisconnected("the client disconnected")

    def _head(self, size: int, more: bool) -> bytes:
        """The status line and headers, with the framing the body needs."""
        status = self.status
        lines = [status_line(status)]
        framed = dated = False
        for name, value in self._headers:
            lower = name.lower()
            if lower == b"date":
                dated = True
            elif lower == b"content-length":
                framed = True
            elif lower == b"transfer-encoding":
                framed = self._chunked = b"chunked" in value.lower()
                if not framed:
                    continue  # a coding we would not apply: dropped
            elif lower == b"connection" and b"close" in value.lower():
                self.keep_alive = False
                continue  # written once below
            lines.append(b"%s: %s" % (name, value))
        self._sent_head = True
        if not dated:
            lines.append(date_line())
        if not framed and status not in _NO_BODY_STATUS and status >= 200:
            if not more:
                if not self.head:
                    lines.append(b"content-length: %d" % size)
            elif self.scope["http_version"] == "1.0":
                self.keep_alive = False  # the end of the connection ends the body
            else:
                self._chunked = True
                lines.append(b"transfer-encoding: chunked")
        if not self.keep_alive:
            lines.append(b"connection: close")
        elif self.scope["http_version"] == "1.0":
            lines.append(b"connection: keep-alive")  # else an HTTP/1.0 client waits for the end
        lines.append(b"\r\n")
        return b"\r\n".join(lines)

    def log_access(self) -> None:
        """One access-log line, as uvicorn writes them."""
        scope = self.scope
        client = scope.get("client")
        where = f"{client[0]}:{client[1]}" if client else "-"
        target = scope["path"] + (
            "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
        )
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d',
            where,
            scope["method"],
            target,
            scope["http_version"],
            self.status,
        )
