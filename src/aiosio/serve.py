"""The standalone front door: HTTP/1.1 and WebSocket on asyncio Protocols.

One :class:`HTTPConnection` per TCP connection parses requests with httptools (C, the
parser uvicorn uses) and, after a WebSocket handshake, frames with :mod:`aiosio.websocket.frames`.
It owns no task: parsing and dispatch happen in ``data_received``, answers are written
from callbacks, and deadlines are timer handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import httptools

from aiosio.engineio.handshake import HTTPError
from aiosio.engineio.session import CloseReason
from aiosio.server.engine import EngineServer, ServerSession
from aiosio.server.http import HTTPRequest, HTTPResponse
from aiosio.server.router import Limits
from aiosio.server.wire import compressed_frames_of, frames_of
from aiosio.websocket.deflate import FrameCompressor
from aiosio.websocket.frames import (
    CloseCode,
    FrameParser,
    Opcode,
    WebSocketError,
    close_frame,
    encode_frame,
)
from aiosio.websocket.handshake import accept_key, check_key

if TYPE_CHECKING:
    from aiosio.server.router import Router

__all__ = ["HTTPConnection", "Limits", "serve"]

logger = logging.getLogger("aiosio.serve")

_MAX_QUEUED = 32  # pipelined requests held behind a busy one before reading pauses
_NO_QUEUE: deque[HTTPRequest] = deque(maxlen=0)  # a WebSocket's: appends are dropped


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# Response heads up to the Content-Length value, by (status, headers, keep-alive): the
# polling answers repeat a handful of them. Bounded: headers that vary (a cookie with the
# sid, a CORS origin) must not grow it without end.
_HEADS: dict[tuple[int, tuple[tuple[str, str], ...], bool], bytes] = {}
_MAX_HEADS = 256


def encode_response(response: HTTPResponse, *, keep_alive: bool) -> bytes:
    """The bytes of an HTTP/1.1 response."""
    body = response.body
    key = (response.status, tuple(response.headers), keep_alive)
    head = _HEADS.get(key)
    if head is None:
        lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        lines.append("Content-Length: ")
        head = "\r\n".join(lines).encode("latin-1")
        if len(_HEADS) >= _MAX_HEADS:
            _HEADS.clear()
        _HEADS[key] = head
    if keep_alive:
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)
    return b"%s%d\r\nConnection: close\r\n\r\n%s" % (head, len(body), body)


def _parse_query(raw: str) -> dict[str, str]:
    """``dict(parse_qsl(raw, keep_blank_values=True))``, without its work when nothing in
    ``raw`` is escaped (the Engine.IO query strings): same pairs, the last one winning."""
    if "%" in raw or "+" in raw:
        return dict(parse_qsl(raw, keep_blank_values=True))
    query = {}
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            query[name] = value
    return query


class _HeadTooLarge(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class HTTPConnection(asyncio.Protocol):
    """One client connection: HTTP requests, then perhaps a WebSocket."""

    __slots__ = (
        "__weakref__",
        "_abort",
        "_body",
        "_body_size",
        "_busy",
        "_closing",
        "_deadline",
        "_discard",
        "_dispatching",
        "_due",
        "_head_began",
        "_head_bytes",
        "_head_request",
        "_head_size",
        "_headers",
        "_in_body",
        "_in_head",
        "_loop",
        "_pending",
        "_queue",
        "_reading",
        "_refused",
        "_url",
        "_write_paused",
        "client",
        "compressor",
        "engine",
        "limits",
        "parser",
        "router",
        "session",
        "stats",
        "transport",
        "ws_parser",
    )

    def __init__(self, router: Router) -> None:
        self.router = router
        self.engine: EngineServer = router.engine
        self.stats = router.engine.stats
        self.limits = router.limits
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] | None = None
        # request being parsed
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_size = 0
        self._in_head = self._head_began = False
        self._head_bytes = 0  # received while in the head, counted per chunk
        self._body: list[bytes] = []
        self._body_size = 0
        self._refused = False
        self._head_request: HTTPRequest | None = None
        self._in_body = False  # between the end of a head and the end of its body
        # answers
        self._queue: deque[HTTPRequest] = deque()
        self._busy = False
        self._dispatching = False
        self._write_paused = False  # the peer does not read our answers (pause_writing)
        self._reading = True
        self._abort: Callable[[], None] | None = None
        self._deadline: asyncio.TimerHandle | None = None  # fires at or before _due
        self._due: float | None = None  # loop time of the deadline; None when disarmed
        self._loop: asyncio.AbstractEventLoop | None = None
        # WebSocket
        self.ws_parser: FrameParser | None = None
        self.compressor: FrameCompressor | None = None  # with permessage-deflate
        self.session: ServerSession | None = None
        self._closing = False
        self._discard = False
        self._pending: bytearray | None = None  # WebSocket bytes held while authorizing

    # -- connection -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client = (str(peer[0]), int(peer[1]))
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        # Forget the transport first: whatever the engine does now (answer a poll, close
        # the WebSocket) must not write to it or arm timers on it.
        self.transport = None
        self._closing = True
        self._disarm()
        handle, self._deadline = self._deadline, None
        if handle is not None:
            handle.cancel()  # it would hold this connection until it fires
        self._queue.clear()
        if self._in_body:
            self._abandon()
        abort, self._abort = self._abort, None
        if abort is not None:
            abort()
        session, self.session = self.session, None
        if session is not None:
            self.engine.websocket_closed(session, self, error=exc is not None)

    def _arm(self, delay: float) -> None:
        # One timer handle serves many deadlines: re-arming only moves ``_due`` (a
        # keep-alive connection re-arms several times per request), and the handle, when
        # it fires early, is set again for the deadline then due. A new handle is made
        # only when the deadline comes sooner than the pending one.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        due = self._due = loop.time() + delay
        handle = self._deadline
        if handle is not None:
            if handle.when() <= due:
                return
            handle.cancel()
        self._deadline = loop.call_at(due, self._fire)

    def _disarm(self) -> None:
        self._due = None  # the pending handle, if any, finds nothing due and goes

    def _fire(self) -> None:
        self._deadline = None
        due = self._due
        if due is None:
            return
        loop = self._loop
        if loop is not None and loop.time() + 0.001 < due:  # uvloop's timers are in ms
            self._deadline = loop.call_at(due, self._fire)
            return
        self._expired()

    def _expired(self) -> None:
        self._due = None
        transport = self.transport
        if transport is None:
            return
        if self._closing:
            # What is left to send is not being read (a slow consumer, or a client that
            # never reads our answer): asyncio would keep the transport for ever.
            transport.abort()
        elif self._in_body:
            self._abandon()
            self._refuse(408)
        else:  # the head deadline, or an idle kept-alive connection
            self._closing = True
            transport.close()
            self._arm(self.limits.close_timeout)

    def _abandon(self) -> None:
        """A request body never came whole: its polling session is closed (docs/limits.md)."""
        self._in_body = False
        self.router.abandon(self._request(b""))

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        ws = self.ws_parser
        if ws is not None:
            self._ws_data(ws, data)
            return
        if self._discard:
            self._hold(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0] if upgrade.args else len(data)
            self._upgrade(data[offset:])
            return
        except httptools.HttpParserCallbackError as exc:
            # httptools wraps what our callbacks raise: a limit, or a bug of ours.
            error = exc.__context__
            if isinstance(error, _HeadTooLarge):
                self._refuse(error.status)
            else:
                logger.error("failed to handle a request", exc_info=error)
                self._refuse(500)
            return
        except httptools.HttpParserError:
            self._refuse(400)
            return
        if self._in_head:
            # httptools buffers a header line until it ends: bound what it may hold by
            # counting the chunks that come while the head is still incomplete (from
            # the one after the head began, so that no earlier request is counted).
            if self._head_began:
                self._head_began = False
            else:
                self._head_bytes += len(data)
                if self._head_bytes > self.limits.max_head:
                    self._refuse(431)

    def _hold(self, data: bytes) -> None:
        """Keep bytes for the WebSocket while ``allow_request`` decides, within a bound."""
        pending = self._pending
        if pending is None:
            return
        pending += data
        if len(pending) > self.engine.max_http_buffer_size:
            # More than a message's worth before the handshake is even answered.
            self._pending = None
            self.transport.abort()  # type: ignore[union-attr]

    def _refuse(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        """Answer and end the connection; unread input is discarded, not left to reset it."""
        headers = [("Content-Type", content_type)]
        self._refuse_with(HTTPResponse(status, body or _reason(status).encode(), headers))

    def _refuse_with(self, response: HTTPResponse) -> None:
        if self._discard or self.transport is None or self.transport.is_closing():
            return
        self._discard = True
        self._write(encode_response(response, keep_alive=False))
        self._shutdown()

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self.stats.bytes_out += len(data)
            transport.write(data)

    # -- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = self._head_began = True
        self._head_bytes = 0
        self._url = b""
        self._headers = {}
        self._head_size = 0
        self._body = []
        self._body_size = 0
        self._refused = False
        self._in_body = False
        self._head_request = None

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_line:
            raise _HeadTooLarge(414)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        if (
            len(name) + len(value) > self.limits.max_line
            or len(self._headers) >= self.limits.max_headers
        ):
            raise _HeadTooLarge(431)
        self._count(len(name) + len(value))
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.limits.max_head:
            raise _HeadTooLarge(431)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self.parser.should_upgrade():
            return  # data_received gets HttpParserUpgrade and takes it from there
        self._in_body = True
        self._arm(self.limits.body_timeout)
        length = self._headers.get("content-length")
        if (
            length is not None
            and length.isdigit()
            and int(length) > self.engine.max_http_buffer_size
        ):
            # Refused from the header alone: the body is never read (docs/limits.md).
            self._too_large()
        elif not self._busy and b"sid=" in self._url and self.parser.get_method() == b"POST":
            # A POST for a session: refused at once if another one's body is still coming.
            # (One pipelined behind a busy request is read whole before it is handled.)
            # Built once: on_message_complete gives this same request its body.
            head = self._head_request = self._request(b"")
            refusal = self.router.begin_post(head)
            if refusal is not None:
                self._refused = True
                self._in_body = False
                self._refuse_with(refusal)

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._body_size += len(body)
        if self._body_size > self.engine.max_http_buffer_size:
            self._too_large()
            return
        self._body.append(body)
        self._arm(self.limits.body_timeout)

    def _too_large(self) -> None:
        self._refused = True
        self._in_body = False
        self._body = []
        self._refuse_with(self.router.too_large(self._request(b"")))

    def on_message_complete(self) -> None:
        # An upgrade request completes here too, before httptools raises
        # HttpParserUpgrade: it is not an HTTP request for the router.
        self._in_body = False
        if self._refused or self.parser.should_upgrade():
            return
        self._disarm()
        request = self._head_request
        if request is None:
            request = self._request(b"".join(self._body))
        else:
            self._head_request = None
            request.body = b"".join(self._body)
        if self._busy or self._write_paused:
            self._queue.append(request)
            self._flow()
            if not self._busy:
                self._arm(self.limits.header_timeout)  # until the peer reads again
        else:
            self._dispatch(request)

    def _request(self, body: bytes) -> HTTPRequest:
        url = httptools.parse_url(self._url)
        raw_query = url.query.decode("latin-1") if url.query else ""
        return HTTPRequest(
            method=self.parser.get_method().decode("ascii"),
            # Decoded, as an ASGI scope has it; raw_query stays as it came.
            path=unquote(url.path.decode("latin-1")) if url.path else "/",
            query=_parse_query(raw_query),
            headers=self._headers,
            body=body,
            client=self.client,
            raw_query=raw_query,
        )

    # -- HTTP answers -----------------------------------------------------------------

    def _dispatch(self, request: HTTPRequest) -> None:
        """Answer ``request`` and then the pipelined ones, until one is deferred.

        A loop, not recursion from :meth:`_respond`: an answer given at once must not
        overwrite the abort callable of a deferred one that it dispatched.
        """
        while True:
            self._busy = True
            self._dispatching = True
            abort = self.router.handle_http(request, self._respond)
            self._dispatching = False
            if self._busy:  # deferred: a held long-poll or an ASGI app at work
                self._abort = abort
                return
            if self.transport is None or self._closing:
                return
            if not self._queue or self._write_paused:
                # Idle, or the peer does not read our answers: answer no more until it
                # does, and drop it if it does not within the deadline.
                self._arm(self.limits.header_timeout)
                return
            request = self._queue.popleft()
            self._flow()

    def _respond(self, response: HTTPResponse) -> None:
        if not self._busy:
            return  # answered already (the engine answers each request once)
        self._abort = None
        self._busy = False
        transport = self.transport
        if transport is None:
            return
        keep_alive = self.parser.should_keep_alive() and not self._discard
        self._write(encode_response(response, keep_alive=keep_alive))
        if not keep_alive:
            self._shutdown()
            return
        if self._dispatching:
            return  # _dispatch goes on with the queue
        if self._queue and not self._write_paused:
            self._dispatch(self._queue.popleft())
            self._flow()
        else:
            self._arm(self.limits.header_timeout)

    # -- flow control -----------------------------------------------------------------

    def pause_writing(self) -> None:
        self._write_paused = True
        self._flow()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._flow()
        if self._queue and not self._busy and not self._closing and self.transport is not None:
            self._dispatch(self._queue.popleft())
            self._flow()

    def _flow(self) -> None:
        """Read requests only while the peer reads our answers and few are queued.

        Otherwise a client pipelining requests it never reads the answers of would make
        us buffer answers (or requests) without bound. A WebSocket always reads: its
        outgoing bound is the engine's (``max_buffered_bytes``).
        """
        transport = self.transport
        if transport is None:
            return
        read = self.ws_parser is not None or (
            not self._write_paused and len(self._queue) < _MAX_QUEUED
        )
        if read != self._reading:
            self._reading = read
            if read:
                transport.resume_reading()
            else:
                transport.pause_reading()

    # -- WebSocket --------------------------------------------------------------------

    def _upgrade(self, rest: bytes) -> None:
        self._disarm()
        request = self._request(b"")
        headers = request.headers
        key = headers.get("sec-websocket-key", "")
        if (
            request.method != "GET"  # RFC 6455, section 4.1
            or headers.get("upgrade", "").lower() != "websocket"
            or headers.get("sec-websocket-version") != "13"
            or not check_key(key)
            or self._busy  # an answer is still owed on this connection
        ):
            self._refuse(400, b"Bad WebSocket handshake")
            return
        if not self.router.is_engine_path(request.path):
            self._refuse(404)
            return
        error = self.engine.check(request, websocket=True)
        if error is not None:
            self._refuse(error.status, error.body, error.content_type)
            return
        # Until allow_request has decided, bytes that come are kept for the WebSocket.
        self._discard = True
        self._pending = bytearray(rest)
        self.engine.authorize(request, lambda refusal: self._accept(request, key, refusal))
        self._hold(b"")  # still deciding: the bytes glued to the handshake count too

    def _accept(self, request: HTTPRequest, key: str, refusal: HTTPError | None) -> None:
        rest, self._pending = bytes(self._pending or b""), None
        self._discard = False
        if self.transport is None:
            return
        if refusal is not None:
            self._refuse(refusal.status, refusal.body, refusal.content_type)
            return
        head = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key).encode()
        )
        for name, value in self.engine.websocket_headers(request):
            head += f"\r\n{name}: {value}".encode("latin-1")
        inflater = None
        deflate = self.engine.per_message_deflate
        offers = request.headers.get("sec-websocket-extensions")
        accepted = deflate.accept(offers) if deflate is not None and offers else None
        if accepted is not None:
            answer, inflater, self.compressor = accepted
            head += b"\r\nSec-WebSocket-Extensions: " + answer.encode()
        self._write(head + b"\r\n\r\n")
        # HTTP is over on this connection: what parsed it goes (the httptools parser also
        # refers back to this object, a cycle for the collector), and the queue of
        # pipelined requests becomes a shared, always-empty one.
        self.parser = None  # type: ignore[assignment]
        self._url = b""
        self._queue = _NO_QUEUE
        parser = self.ws_parser = FrameParser(
            max_message_size=self.engine.max_http_buffer_size, compression=inflater
        )
        self.session = self.engine.open_websocket(request, self)
        if rest and self.session is not None:
            self._ws_data(parser, rest)

    def _ws_data(self, parser: FrameParser, data: bytes) -> None:
        try:
            messages = parser.feed(data)
        except WebSocketError as exc:
            self._ws_fail(exc.code)
            return
        engine = self.engine
        for opcode, payload in messages:
            session = self.session
            if session is None:
                return
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                engine.websocket_message(session, self, payload)
            elif opcode is Opcode.PING:
                self._write(encode_frame(Opcode.PONG, payload))  # type: ignore[arg-type]
                if self.buffered() > engine.max_buffered_bytes:
                    # Pongs the peer never reads: a slow consumer like any other.
                    engine.close_session(session, CloseReason.BUFFER_FULL, flush=False)
                    return
            elif opcode is Opcode.CLOSE:
                self.close(CloseCode.NORMAL)
                return

    def _ws_fail(self, code: int) -> None:
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

    def _shutdown(self) -> None:
        self._closing = True
        transport = self.transport
        if transport is None:
            return
        with contextlib.suppress(Exception):
            transport.write_eof()
        self._arm(self.limits.close_timeout)

    def eof_received(self) -> bool | None:
        return False


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
