"""The application's own WebSocket routes on the standalone server (ASGI ``websocket``).

A WebSocket handshake on a path that is not the Engine.IO endpoint goes to the app:
:class:`AppWebSocket` runs its ``websocket`` scope in a task. Until the app answers, the
HTTP connection holds the transport (bytes that come meanwhile are kept); on
``websocket.accept`` the 101 goes out (with the subprotocol and headers the app chose)
and this object becomes the transport's protocol, parsing frames with the same
:class:`~aiosio.websocket.frames.FrameParser` as Socket.IO's WebSockets. A
``websocket.close`` before the accept is a 403; ``websocket.http.response`` (the ASGI
extension) sends the app's own HTTP answer instead.

Flow control: reading pauses while more than :data:`MAX_QUEUED` messages wait for the
app's ``receive()``; ``send()`` waits while the client does not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from aiosio.serve.app_cycle import AppWaits, ClientDisconnected
from aiosio.serve.codec import status_line
from aiosio.serve.conn import Connection
from aiosio.websocket.frames import (
    CloseCode,
    FrameParser,
    Opcode,
    WebSocketError,
    binary_frame,
    close_frame,
    encode_frame,
    parse_close,
    text_frame,
)
from aiosio.websocket.handshake import accept_key

if TYPE_CHECKING:
    from aiosio.server.stats import Counters

__all__ = ["MAX_MESSAGE", "MAX_QUEUED", "AppWebSocket", "Handover"]

logger = logging.getLogger("aiosio.serve")

MAX_QUEUED = 64  # received messages waiting for the app before reading pauses
MAX_MESSAGE = 16 * 1024 * 1024  # largest message from a client (close 1009 beyond)

Message = MutableMapping[str, Any]
App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
# Called on the accept: the HTTP connection gives up the transport, and the bytes it kept.
Handover = Callable[["AppWebSocket"], "tuple[asyncio.Transport, bytes] | None"]


class AppWebSocket(Connection, AppWaits):
    """One WebSocket of the application: its ASGI cycle, then its asyncio Protocol."""

    __slots__ = (
        "_accepted",
        "_close_timeout",
        "_closed",
        "_deadline",
        "_drain",
        "_handover",
        "_inbox",
        "_paused",
        "_sent_close",
        "_waiter",
        "_write_paused",
        "parser",
        "scope",
        "task",
    )

    def __init__(
        self,
        scope: MutableMapping[str, Any],
        stats: Counters,
        transport: asyncio.Transport,
        handover: Handover,
        *,
        close_timeout: float,
    ) -> None:
        self.scope = scope
        self.stats = stats
        self.transport: asyncio.Transport | None = transport  # written through until accept
        self._handover = handover
        self._close_timeout = close_timeout
        self.parser = FrameParser(max_message_size=MAX_MESSAGE)
        self._inbox: deque[Message] = deque([{"type": "websocket.connect"}])
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._accepted = False
        self._closed: Message | None = None  # the websocket.disconnect, once it is known
        self._sent_close = False
        self._paused = False
        self._write_paused = False
        self._deadline: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self, app: App) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(app))

    async def _run(self, app: App) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:
            if self._closed is None:
                logger.error("exception in the ASGI application", exc_info=exc)
            self._end(CloseCode.INTERNAL_ERROR)
        else:
            self._end(CloseCode.NORMAL)

    def _end(self, code: int) -> None:
        """The app is done: a 500 if it never answered the handshake, else a close."""
        if self._closed is not None and self.transport is None:
            return
        if not self._accepted:
            if not self._sent_close:
                self._http_answer(500, b"Internal Server Error")
            return
        self._close(code, "")

    # -- ASGI receive -----------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            inbox = self._inbox
            if inbox:
                message = inbox.popleft()
                if self._paused and len(inbox) < MAX_QUEUED // 2:
                    self._paused = False
                    if self.transport is not None:
                        self.transport.resume_reading()
                return message
            if self._closed is not None:
                return self._closed
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter

    # -- ASGI send --------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            if not self._accepted:
                raise RuntimeError("websocket.send before websocket.accept")
            if self._sent_close or self.transport is None:
                raise ClientDisconnected("the WebSocket is closed")
            text = message.get("text")
            self._write(text_frame(text) if text is not None else binary_frame(message["bytes"]))
            if self._write_paused:
                drain = self._drain = asyncio.get_running_loop().create_future()
                await drain
        elif kind == "websocket.accept":
            if self._accepted or self._sent_close:
                raise RuntimeError("websocket.accept after the handshake was answered")
            self._accept(message)
        elif kind == "websocket.close":
            if not self._accepted:
                if not self._sent_close:
                    self._http_answer(403, b"Forbidden")
                return
            self._close(int(message.get("code") or CloseCode.NORMAL), message.get("reason") or "")
        elif kind == "websocket.http.response.start":
            if self._accepted or self._sent_close:
                raise RuntimeError("websocket.http.response.start after the handshake")
            self._accepted = False
            self._sent_close = True  # the handshake is answered: with HTTP
            self._http_head(int(message["status"]), list(message.get("headers", ())))
        elif kind == "websocket.http.response.body":
            self._write(message.get("body", b""))
            if not message.get("more_body", False):
                self._finish_http()
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} in a websocket cycle")

    def _accept(self, message: Message) -> None:
        taken = self._handover(self)
        if taken is None:  # the client left meanwhile
            self._closed = {"type": "websocket.disconnect", "code": CloseCode.ABNORMAL}
            raise ClientDisconnected("the client disconnected before the accept")
        transport, rest = taken
        self.transport = transport
        self._accepted = True
        headers = {name.lower(): value for name, value in self.scope["headers"]}
        lines = [
            b"HTTP/1.1 101 Switching Protocols",
            b"upgrade: websocket",
            b"connection: Upgrade",
            b"sec-websocket-accept: "
            + accept_key(headers[b"sec-websocket-key"].decode("latin-1")).encode(),
        ]
        subprotocol = message.get("subprotocol")
        if subprotocol:
            lines.append(b"sec-websocket-protocol: " + subprotocol.encode("latin-1"))
        for name, value in message.get("headers", ()):
            lines.append(bytes(name) + b": " + bytes(value))
        self._write(b"\r\n".join(lines) + b"\r\n\r\n")
        transport.set_protocol(self)
        if rest:
            self.data_received(rest)

    def _http_answer(self, status: int, body: bytes) -> None:
        self._sent_close = True
        self._http_head(status, [(b"content-type", b"text/plain")], len(body))
        self._write(body)
        self._finish_http()

    def _http_head(self, status: int, headers: list[Any], length: int | None = None) -> None:
        taken = self._handover(self)
        if taken is None:
            return
        self.transport = taken[0]
        taken[0].set_protocol(self)  # what the client sends now is not read
        self._closed = {"type": "websocket.disconnect", "code": CloseCode.ABNORMAL}
        lines = [status_line(status)]
        lines.extend(bytes(name) + b": " + bytes(value) for name, value in headers)
        if length is not None:
            lines.append(b"content-length: %d" % length)
        lines.append(b"connection: close")
        self._write(b"\r\n".join(lines) + b"\r\n\r\n")

    def _finish_http(self) -> None:
        self._shutdown()

    def close_if_idle(self) -> None:
        """At shutdown: the server is going away (close code 1001)."""
        if self._accepted:
            self._close(CloseCode.GOING_AWAY, "")

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol, once accepted ----------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        if self._closed is not None:
            return
        try:
            messages = self.parser.feed(data)
        except WebSocketError as exc:
            self._close(exc.code, "")
            self._disconnected(exc.code)
            return
        inbox = self._inbox
        for opcode, payload in messages:
            if opcode is Opcode.TEXT:
                inbox.append({"type": "websocket.receive", "text": payload})
            elif opcode is Opcode.BINARY:
                inbox.append({"type": "websocket.receive", "bytes": payload})
            elif opcode is Opcode.PING:
                self._write(encode_frame(Opcode.PONG, payload))  # type: ignore[arg-type]
            elif opcode is Opcode.CLOSE:
                code, why = parse_close(payload)  # type: ignore[arg-type]
                self._close(code if code != CloseCode.NO_STATUS else CloseCode.NORMAL, "")
                self._disconnected(code, why)
                return
        self._wake()
        if len(inbox) > MAX_QUEUED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return False

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self.writable()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        handle, self._deadline = self._deadline, None
        if handle is not None:
            handle.cancel()
        self._disconnected(CloseCode.ABNORMAL)

    def lost(self) -> None:
        """The client left before the app answered the handshake."""
        self.transport = None
        self._disconnected(CloseCode.ABNORMAL)

    def _disconnected(self, code: int, why: str = "") -> None:
        if self._closed is None:
            self._closed = {"type": "websocket.disconnect", "code": code, "reason": why}
        self._wake()
        self.writable()

    # -- ending -----------------------------------------------------------------------

    def _close(self, code: int, why: str) -> None:
        """Send our close frame (once) and end the connection soon."""
        if self._sent_close or self.transport is None:
            return
        self._sent_close = True
        self._write(close_frame(code, why))
        self._shutdown()

    def _shutdown(self) -> None:
        transport = self.transport
        if transport is None or self._deadline is not None:
            return
        with contextlib.suppress(Exception):
            transport.write_eof()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._close_timeout, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self.transport is not None:
            self.transport.abort()
