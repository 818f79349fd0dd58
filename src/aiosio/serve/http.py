"""The HTTP/1.1 side of the standalone front door: one asyncio Protocol per connection.

:class:`HTTPConnection` parses requests with httptools (C, the parser uvicorn uses),
enforces the limits of docs/limits.md on their heads and bodies, hands each request read
whole to the answering half it is built on (:class:`~aiosio.serve.lifecycle.HTTPLifecycle`:
answers in order, keep-alive, pipelining, flow control), and on a WebSocket handshake
answers 101 and hands the transport to a
:class:`~aiosio.serve.websocket.WebSocketConnection`. It owns no task: parsing and
dispatch happen in ``data_received``, answers are written from callbacks, and deadlines
are timer handles.

A connection of a server that serves an application beside Socket.IO
(:class:`~aiosio.serve.asgi_app.AppHTTPConnection`) routes each request as soon as its URL
is read, before its headers: a request for the Engine.IO endpoint (every Socket.IO
request, told from the URL's bytes) is read by these callbacks exactly as on a server
without an app, and only another, which may be the app's, also keeps its headers as they
came (``_raw``, for the ASGI scope) and is handed to the subclass's ``_app_*`` methods.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httptools

from aiosio.serve.codec import encode_response, parse_query
from aiosio.serve.lifecycle import Answer, HTTPLifecycle, Phase
from aiosio.serve.websocket import WebSocketConnection
from aiosio.server.http import HTTPRequest, error_response
from aiosio.websocket.handshake import accept_key, check_key

if TYPE_CHECKING:
    import asyncio

    from aiosio.engineio.handshake import HTTPError
    from aiosio.server.router import Router

__all__ = ["Answer", "HTTPConnection", "Phase", "encode_response"]

logger = logging.getLogger("aiosio.serve")

_BEGAN = -1  # _head_bytes while the head began in the chunk being parsed
_PHASE_IDLE, _PHASE_HEAD, _PHASE_BODY, _PHASE_UPGRADING, _PHASE_CLOSING, _PHASE_CLOSED = Phase
_ANSWER_NONE = Answer.NONE


class _HeadTooLarge(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Stop(Exception):
    """Raised in a parser callback to stop httptools: the connection is closing, and a
    request pipelined in the same chunk as the one that ended it must not be handled."""


class HTTPConnection(HTTPLifecycle):
    """One client connection: HTTP requests, then perhaps a WebSocket (handed over)."""

    __slots__ = (
        "_body",
        "_body_size",
        "_engine_url",
        "_head_bytes",
        "_head_request",
        "_head_size",
        "_headers",
        "_pending",
        "_raw",
        "_routing",
        "_url",
        "parser",
    )

    def __init__(self, router: Router) -> None:
        HTTPLifecycle.__init__(self, router)  # by name: no super() object per connection
        self.parser = httptools.HttpRequestParser(self)
        # request being parsed
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_size = 0
        self._head_bytes = 0  # received while in the head, counted per chunk
        self._body: list[bytes] = []
        self._body_size = 0
        self._head_request: HTTPRequest | None = None
        self._pending: bytearray | None = None  # WebSocket bytes held while authorizing
        # Routing by URL (set by a subclass serving an app): how every Socket.IO request
        # line's URL begins, the Engine.IO endpoint and the "?" of its query (None: the
        # endpoint is only found the long way, by the decoded path), and the headers as
        # they came of a request whose URL does not (None for one whose URL does).
        self._routing = False
        self._engine_url: bytes | None = None
        self._raw: list[tuple[bytes, bytes]] | None = None

    # -- reading ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        phase = self._phase
        if phase is _PHASE_UPGRADING:
            self._hold(data)
            return
        if phase is _PHASE_CLOSING or phase is _PHASE_CLOSED or self._final:
            return  # answered (or to be) and ending: what still comes is not read
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0] if upgrade.args else len(data)
            self._upgrade(data[offset:])
            return
        except httptools.HttpParserCallbackError as exc:
            # httptools wraps what our callbacks raise: a limit, a stop, or a bug of ours.
            error = exc.__context__
            if isinstance(error, _HeadTooLarge):
                self._refuse(error.status)
            elif not isinstance(error, _Stop):
                logger.error("failed to handle a request", exc_info=error)
                self._refuse(500)
            return
        except httptools.HttpParserError:
            if not self._final:  # else: bytes after a request that ended the connection
                self._refuse(400)
            return
        if self._phase is _PHASE_HEAD:
            # httptools buffers a header line until it ends: bound what it may hold by
            # counting the chunks that come while the head is still incomplete (from
            # the one after the head began, so that no earlier request is counted).
            if self._head_bytes == _BEGAN:
                self._head_bytes = 0
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

    def _abandon(self) -> None:
        """A request body never came whole: its polling session is closed (docs/limits.md)."""
        self._phase = _PHASE_IDLE
        self.router.abandon(self._request(b""))

    # -- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._phase is not _PHASE_IDLE or self._final:
            raise _Stop  # closing: a request pipelined behind the last answer
        self._phase = _PHASE_HEAD
        self._head_bytes = _BEGAN
        self._url = b""
        self._headers = {}
        self._head_size = 0
        self._body = []
        self._body_size = 0
        self._head_request = None

    def on_url(self, url: bytes) -> None:
        whole = self._url = self._url + url
        if len(whole) > self.limits.max_line:
            raise _HeadTooLarge(414)
        self._count(len(url))
        if self._routing:  # decided again on each piece: the last has the whole URL
            # Compared as a slice: bytes.startswith parses its arguments as a tuple, the
            # cost of a Python call.
            engine = self._engine_url
            self._raw = None if engine is not None and whole[: len(engine)] == engine else []

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
        raw = self._raw
        if raw is not None:
            raw.append((name.lower(), value))

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.limits.max_head:
            raise _HeadTooLarge(431)

    def on_headers_complete(self) -> None:
        if self.parser.should_upgrade():
            # data_received gets HttpParserUpgrade and takes it from there.
            self._phase = _PHASE_UPGRADING
            return
        if self._raw is not None and self._app_head():
            return
        self._phase = _PHASE_BODY
        self._arm(self.limits.body_timeout)
        length = self._headers.get("content-length")
        if (
            length is not None
            and length.isdigit()
            and int(length) > self.engine.max_http_buffer_size
        ):
            # Refused from the header alone: the body is never read (docs/limits.md).
            self._too_large()
        elif (
            self._answer is _ANSWER_NONE
            and b"sid=" in self._url
            and self.parser.get_method() == b"POST"
        ):
            # A POST for a session: refused at once if another one's body is still coming.
            # (One pipelined behind a busy request is read whole before it is handled.)
            # Built once: on_message_complete gives this same request its body.
            head = self._head_request = self._request(b"")
            refusal = self.router.begin_post(head)
            if refusal is not None:
                self._refuse_with(refusal)  # not abandoned: the session is not ours

    def on_body(self, body: bytes) -> None:
        if self._phase is not _PHASE_BODY:
            return  # refused: the rest of this chunk is dropped
        if self._raw is not None:
            self._app_body(body)
            return
        self._body_size += len(body)
        if self._body_size > self.engine.max_http_buffer_size:
            self._too_large()
            return
        self._body.append(body)
        self._arm(self.limits.body_timeout)

    def _too_large(self) -> None:
        self._body = []
        self._refuse_with(self.router.too_large(self._request(b"")))

    def on_message_complete(self) -> None:
        # A refused request, and an upgrade request (which completes here too, before
        # httptools raises HttpParserUpgrade), are not requests for the router.
        if self._phase is not _PHASE_BODY:
            return
        if self._raw is not None:
            self._app_end()
            return
        self._phase = _PHASE_IDLE
        self._disarm()
        keep_alive = self.parser.should_keep_alive() and not self._ending
        if not keep_alive:
            self._final = True  # Connection: close, or HTTP/1.0: the last request
        request = self._head_request
        if request is None:
            request = self._request(b"".join(self._body))
        else:
            self._head_request = None
            request.body = b"".join(self._body)
        if self._answer is not _ANSWER_NONE or self._write_paused:
            self._queue.append((self._handle, request, keep_alive))
            self._flow()
            if self._answer is _ANSWER_NONE:
                self._arm(self.limits.header_timeout)  # until the peer reads again
        else:
            self._dispatch(self._handle, request, keep_alive)

    def _request(self, body: bytes) -> HTTPRequest:
        url = httptools.parse_url(self._url)
        raw_query = url.query.decode("latin-1") if url.query else ""
        return HTTPRequest(
            method=self.parser.get_method().decode("ascii"),
            # Decoded, as an ASGI scope has it; raw_query stays as it came.
            path=unquote(url.path.decode("latin-1")) if url.path else "/",
            query=parse_query(raw_query),
            headers=self._headers,
            body=body,
            client=self.client,
            raw_query=raw_query,
        )

    # -- a request that may be an application's -------------------------------------------
    # Called only on a connection routing by URL, for a request whose URL is not the
    # Engine.IO endpoint's: the subclass that serves the app answers them.

    def _app_head(self) -> bool:
        """The head is read: take the request if it is the app's (True), else leave it to
        the router (False, with ``_raw`` set back to None)."""
        raise NotImplementedError

    def _app_body(self, body: bytes) -> None:
        """A piece of the body of a request :meth:`_app_head` took."""
        raise NotImplementedError

    def _app_end(self) -> None:
        """The body of a request :meth:`_app_head` took is complete."""
        raise NotImplementedError

    def _app_upgrade(self, rest: bytes) -> bool:
        """A WebSocket handshake is read: take it if it is the app's (True)."""
        raise NotImplementedError

    # -- WebSocket handshake ----------------------------------------------------------

    def _upgrade(self, rest: bytes) -> None:
        if self._raw is not None and self._app_upgrade(rest):
            return
        self._disarm()
        request = self._request(b"")
        headers = request.headers
        key = headers.get("sec-websocket-key", "")
        if (
            request.method != "GET"  # RFC 6455, section 4.1
            or headers.get("upgrade", "").lower() != "websocket"
            or headers.get("sec-websocket-version") != "13"
            or not check_key(key)
            or self._answer is not _ANSWER_NONE  # an answer is still owed
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
        self._phase = _PHASE_UPGRADING
        self._pending = bytearray(rest)
        self.engine.authorize(request, lambda refusal: self._accept(request, key, refusal))
        self._hold(b"")  # still deciding: the bytes glued to the handshake count too

    def _accept(self, request: HTTPRequest, key: str, refusal: HTTPError | None) -> None:
        rest, self._pending = bytes(self._pending or b""), None
        transport = self.transport
        if transport is None:
            return
        if refusal is not None:
            self._refuse_with(error_response(refusal))
            return
        head = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key).encode()
        )
        for name, value in self.engine.websocket_headers(request):
            head += f"\r\n{name}: {value}".encode("latin-1")
        inflater = compressor = None
        deflate = self.engine.per_message_deflate
        offers = request.headers.get("sec-websocket-extensions")
        accepted = deflate.accept(offers) if deflate is not None and offers else None
        if accepted is not None:
            answer, inflater, compressor = accepted
            head += b"\r\nSec-WebSocket-Extensions: " + answer.encode()
        self._write(head + b"\r\n\r\n")
        websocket = WebSocketConnection(
            self.engine,
            transport,
            close_timeout=self.limits.close_timeout,
            inflater=inflater,
            compressor=compressor,
        )
        self._hand_over(transport)
        transport.set_protocol(websocket)
        websocket.open(request, rest)

    def _hand_over(self, transport: asyncio.Transport) -> None:
        """HTTP is over on this connection: this object lets go of it and goes.

        The transport will refer to the WebSocket only; the httptools parser (which
        refers back to this object, a cycle for the collector) and the timer handle
        are dropped now, so an idle WebSocket costs no more than its own object.
        """
        self._phase = _PHASE_CLOSED
        self._cancel_timer()
        self.transport = None
        self.router.connections.discard(self)
        self.parser = None  # type: ignore[assignment]
        self._url = b""
        self._headers = {}
        self._raw = None
        self._body = []
        if not self._reading:  # a WebSocket always reads
            self._reading = True
            transport.resume_reading()
