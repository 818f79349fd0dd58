"""The WebSocket side of the standalone front door: one asyncio Protocol per WebSocket.

:class:`~aiosio.serve.http.HTTPConnection` answers the handshake with a 101 and hands the
transport to a :class:`WebSocketConnection` (``transport.set_protocol``). From then on the
HTTP parser, its request state and its pipelining queue are gone: an idle WebSocket holds
only what this class holds, which is why it is small and has ``__slots__`` (a server may
keep tens of thousands of them).

This is the hot path: ``data_received`` feeds :class:`~aiosio.websocket.frames.FrameParser`
and hands each message to the engine; ``send_items`` writes a flush of engine packets as
frames in one ``transport.write``. Neither does any bookkeeping beyond that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiosio.engineio.session import CloseReason
from aiosio.engineio.wire import compressed_frames_of, frames_of
from aiosio.serve.conn import Connection
from aiosio.websocket.frames import (
    CloseCode,
    FrameParser,
    Message,
    Opcode,
    WebSocketError,
    close_frame,
    encode_frame,
)

if TYPE_CHECKING:
    from aiosio.server.engine import EngineServer, ServerSession
    from aiosio.server.http import HTTPRequest
    from aiosio.server.stats import Counters
    from aiosio.websocket.deflate import FrameCompressor, Inflater

__all__ = ["WebSocketConnection"]


class WebSocketConnection(Connection):
    """One WebSocket, after the handshake: frames in, engine packets out.

    ``_closing`` is the one state flag: once we have sent a close frame (or the
    connection is gone) nothing more is written, and the connection ends within
    ``close_timeout`` whether or not the peer answers.
    """

    __slots__ = (
        "__weakref__",
        "_backlog",
        "_close_timeout",
        "_closing",
        "_deadline",
        "_held",
        "compressor",
        "engine",
        "parser",
        "session",
    )

    def __init__(
        self,
        engine: EngineServer,
        transport: asyncio.Transport,
        *,
        close_timeout: float,
        inflater: Inflater | None = None,
        compressor: FrameCompressor | None = None,
    ) -> None:
        self.engine = engine
        self.stats: Counters = engine.stats
        self.transport: asyncio.Transport | None = transport
        transport.set_write_buffer_limits(engine.high_water_mark, engine.low_water_mark)
        self.parser = FrameParser(
            max_message_size=engine.max_http_buffer_size, compression=inflater
        )
        self.compressor = compressor  # with permessage-deflate
        self.session: ServerSession | None = None
        self._closing = False
        self._close_timeout = close_timeout
        self._deadline: asyncio.TimerHandle | None = None  # the abort after a close
        self._held: asyncio.TimerHandle | None = None  # reading paused: a rate limit
        self._backlog: list[Message] | None = None  # read while held

    def open(self, request: HTTPRequest, rest: bytes) -> None:
        """Open the engine session; then the bytes that came glued to the handshake."""
        self.session = self.engine.open_websocket(request, self)
        if rest:
            self._frames(rest)

    # -- asyncio.Protocol -------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        self._frames(data)

    def _frames(self, data: bytes) -> None:
        """Frames to the engine (``data`` already counted: the handshake's rest is)."""
        if self.session is None:
            return  # closed on our side: what the peer still sends is not read
        try:
            messages = self.parser.feed(data)
        except WebSocketError as exc:
            self._fail(exc.code)
            return
        self._run(iter(messages))

    def _run(self, messages: Iterator[Message]) -> None:
        engine = self.engine
        for opcode, payload in messages:
            session = self.session
            if session is None:
                return
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                engine.websocket_message(session, self, payload)
                if self._held is not None:  # over a rate limit: the rest waits too
                    self._backlog = list(messages)
                    return
            elif opcode is Opcode.PING:
                self._write(encode_frame(Opcode.PONG, payload))  # type: ignore[arg-type]
                if self.buffered() > engine.max_buffered_bytes:
                    # Pongs the peer never reads: a slow consumer like any other.
                    engine.close_session(session, CloseReason.BUFFER_FULL, flush=False)
                    return
            elif opcode is Opcode.CLOSE:
                self.close(CloseCode.NORMAL)
                return

    def eof_received(self) -> bool | None:
        return False  # a half-closed WebSocket is over: let asyncio close it

    def connection_lost(self, exc: Exception | None) -> None:
        # Forget the transport first: whatever the engine does now must not write to it.
        self.transport = None
        self._closing = True
        for handle in (self._deadline, self._held):
            if handle is not None:
                handle.cancel()  # it would hold this connection until it fires
        self._deadline = self._held = None
        session, self.session = self.session, None
        if session is not None:
            self.engine.websocket_closed(session, self, error=exc is not None)

    def hold(self, seconds: float) -> None:
        """Read nothing more from the peer for ``seconds``: it is over a rate limit, and
        TCP's flow control slows it down instead of the server (server/admission.py)."""
        transport = self.transport
        if transport is None or self._held is not None:
            return
        transport.pause_reading()
        self._held = asyncio.get_running_loop().call_later(seconds, self._release)

    def _release(self) -> None:
        self._held = None
        if self.transport is not None:
            self.transport.resume_reading()
        backlog, self._backlog = self._backlog, None
        if backlog:
            self._run(iter(backlog))

    # A WebSocket keeps reading while the peer does not read; its outgoing bound is the
    # engine's max_buffered_bytes. The transport's marks are the engine's backpressure
    # marks: resume_writing is the buffer falling under the low one.

    def resume_writing(self) -> None:
        session = self.session
        if session is not None and session.flow is not None:
            session.flow.drained()

    # -- the engine's WebSocketTransport ----------------------------------------------

    def send_items(self, items: list[object]) -> None:
        """Write engine packets as WebSocket frames, in one write."""
        if not self._closing:
            compressor = self.compressor
            if compressor is None:
                self._write(frames_of(items))
            else:
                self._write(compressed_frames_of(items, compressor))

    def buffered(self) -> int:
        transport = self.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def close(self, code: int = 1000) -> None:
        """Start the close handshake; the connection ends when the peer answers or soon."""
        if self._closing or self.transport is None:
            return
        self._closing = True
        session, self.session = self.session, None
        self._write(close_frame(code))
        if session is not None:
            self.engine.websocket_closed(session, self)
        self._shutdown()

    # -- ending -----------------------------------------------------------------------

    def _fail(self, code: int) -> None:
        """The peer broke the protocol: a close frame with ``code``, and the end."""
        session, self.session = self.session, None
        self._write(close_frame(code))
        self._closing = True  # the engine's own close() must not send a second frame
        if session is not None:
            reason = (
                CloseReason.TRANSPORT_ERROR
                if code != CloseCode.INVALID_DATA
                else CloseReason.PARSE_ERROR
            )
            self.engine.websocket_error(session, self, reason)
        self._shutdown()

    def _shutdown(self) -> None:
        """Half-close, and abort if what is left is not read within ``close_timeout``:
        asyncio would otherwise keep a transport with unsent bytes for ever."""
        self._closing = True
        transport = self.transport
        if transport is None or self._deadline is not None:
            return
        with contextlib.suppress(Exception):
            transport.write_eof()
        if self._held is not None:  # read again: the peer's answer ends the connection
            self._held.cancel()
            self._held = self._backlog = None
            transport.resume_reading()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._close_timeout, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        transport = self.transport
        if transport is not None:
            transport.abort()
