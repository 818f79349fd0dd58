"""HTTP long-polling for the engine: the handshake, held GETs, POSTs, closing leftovers.

:class:`LongPolling` is the part of :class:`~aiosio.server.engine.EngineServer` that
answers HTTP requests; the engine holds one and lends its methods to the front doors
(``engine.handle_request`` is ``engine.polling.handle_request``: no extra call). The
sessions, their timers and the flushing stay in the engine, the protocol in
:mod:`aiosio.engineio`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING

from aiosio.engineio.handshake import HTTPError, RequestError
from aiosio.engineio.packets import CLOSE_TEXT, NOOP_TEXT, SEPARATOR
from aiosio.engineio.session import CloseReason, State
from aiosio.server.http import (
    HTTPRequest,
    HTTPResponse,
    choose_encoding,
    error_response,
    poll_headers,
)
from aiosio.server.session import ServerSession

if TYPE_CHECKING:
    from aiosio.server.engine import EngineServer

__all__ = ["LongPolling"]

Respond = Callable[[HTTPResponse], None]
# A polling client sends its next GET as soon as it has read an answer: one that has not
# within this many seconds is gone or stalled, and a shutdown does not wait for it.
NEXT_POLL = 1.0


def _ok() -> HTTPResponse:
    return HTTPResponse(200, b"ok", [("Content-Type", "text/html")])


class LongPolling:
    """The long-polling requests of one engine's sessions."""

    __slots__ = ("_due", "_taken", "closing", "engine")

    def __init__(self, engine: EngineServer) -> None:
        self.engine = engine
        # Polling sessions closed by the server: what the next GET still gets before CLOSE.
        self.closing: dict[str, tuple[list[object], asyncio.TimerHandle]] = {}
        # Those of them whose client is between two polls (a GET answered NEXT_POLL ago
        # at most): the loop time by which its next GET should have come.
        self._due: dict[str, float] = {}
        self._taken: asyncio.Event | None = None  # set when no client is due any more

    async def until_taken(self, timeout: float) -> None:
        """Wait until every polling client that is between two polls has fetched its
        CLOSE packet with its next GET (at most ``timeout`` seconds, and no longer than
        each was due): a closing front door keeps its port and connections open until
        then, or that GET is refused or cut and the client sees a transport error. The
        reference server does not wait (its client sees "transport error" then)."""
        if not self._due:
            return
        wait = min(timeout, max(self._due.values()) - monotonic())
        taken = self._taken = asyncio.Event()
        try:
            async with asyncio.timeout(wait):
                await taken.wait()
        except TimeoutError:
            pass
        finally:
            self._taken = None

    def _forget(self, sid: str) -> tuple[list[object], asyncio.TimerHandle] | None:
        left = self.closing.pop(sid, None)
        if self._due.pop(sid, None) is not None and not self._due and self._taken is not None:
            self._taken.set()
        return left

    def handle_request(self, request: HTTPRequest, respond: Respond) -> Callable[[], None] | None:
        """Answer a polling or handshake request through ``respond``.

        Returns:
            A callable for the front door to call if the client goes away before a deferred
            answer (a held long-poll); None when the answer was given or is on its way.
        """
        engine = self.engine
        extra = engine.cors_headers(request)
        if request.method == "OPTIONS" and extra:
            headers = [*extra, ("Access-Control-Allow-Methods", "GET, POST, OPTIONS")]
            wanted = request.headers.get("access-control-request-headers")
            if wanted:
                headers.append(("Access-Control-Allow-Headers", wanted))
            respond(HTTPResponse(204, b"", headers))
            return None
        if extra:
            inner = respond

            def respond(response: HTTPResponse) -> None:
                response.headers.extend(extra)
                inner(response)

        error = engine.check(request, websocket=False)
        if error is not None:
            if request.method == "POST":
                self._end_post(request)
            respond(error_response(error))
            return None
        if request.method == "GET" and engine.http_compression is not None:
            respond = self._compressing(request, respond)
        sid = request.query.get("sid")
        if sid is None:
            self._handshake(request, respond)
            return None
        session = engine.sessions.get(sid)
        if session is None:
            respond(self._closing_answer(sid, request.method))
            return None
        if request.method == "GET":
            return self._poll(session, respond)
        if request.method == "POST":
            respond(self._post(session, request))
        else:
            respond(error_response(HTTPError.from_code(RequestError.BAD_REQUEST)))
        return None

    def _compressing(self, request: HTTPRequest, respond: Respond) -> Respond:
        """``respond``, gzip- or deflate-encoding 200 answers of ``threshold`` bytes or more
        as ``Accept-Encoding`` allows (the handshake and polling GETs)."""
        compression = self.engine.http_compression
        accepted = request.headers.get("accept-encoding")
        encoding = choose_encoding(accepted) if accepted and compression is not None else None
        if encoding is None or compression is None:
            return respond

        def respond_compressed(response: HTTPResponse) -> None:
            body = response.body
            if response.status == 200 and response.compress and len(body) >= compression.threshold:
                response.body = compression.encode(body, encoding)
                response.headers += [("Content-Encoding", encoding), ("Vary", "Accept-Encoding")]
            respond(response)

        return respond_compressed

    def _handshake(self, request: HTTPRequest, respond: Respond) -> None:
        def decided(error: HTTPError | None) -> None:
            respond(self._open(request) if error is None else error_response(error))

        self.engine.authorize(request, decided)

    def _open(self, request: HTTPRequest) -> HTTPResponse:
        engine = self.engine
        session = engine.new_session(request, "polling")
        upgrades: list[str] = [
            name
            for name in ("websocket", "webtransport")
            if engine.allow_upgrades and name in engine.transports
        ]
        body = engine.open_packet(session, upgrades)
        response = HTTPResponse(200, body.encode(), poll_headers())
        cookie = engine.cookie_header(session.sid)
        if cookie:
            response.headers.append(("Set-Cookie", cookie))
        engine.opened(session, request)
        return response

    def _poll(self, session: ServerSession, respond: Respond) -> Callable[[], None] | None:
        engine = self.engine
        if session.poll is not None:
            # A second concurrent GET: refuse it, close the session, answer the first one.
            respond(error_response(HTTPError.from_code(RequestError.BAD_REQUEST)))
            engine.close_session(session, CloseReason.TRANSPORT_ERROR, flush=False)
            return None
        if session.state is State.UPGRADING:
            respond(engine.poll_response([NOOP_TEXT]))
            return None
        if session.outbox:
            session.answered = monotonic()
            respond(engine.poll_response(session.take_outbox()))
            return None
        session.poll = respond

        def abort() -> None:
            if session.poll is respond:
                session.poll = None
                engine.close_session(session, CloseReason.TRANSPORT_CLOSE, flush=False)

        return abort

    def end_poll(self, session: ServerSession) -> None:
        """A held GET returns NOOP: the client closed the session, or is upgrading (it
        pauses polling)."""
        respond = session.poll
        if respond is not None:
            session.poll = None
            respond(self.engine.poll_response([NOOP_TEXT]))

    # -- POST -------------------------------------------------------------------------

    def refuse_too_large(self, request: HTTPRequest) -> HTTPResponse:
        """The 413 answer to a body over ``max_http_buffer_size``; its session is closed.

        Front doors call this from the Content-Length header alone, or as soon as the
        streamed body goes over the limit, without reading the rest (docs/limits.md).
        """
        self.abandon(request)
        response = HTTPResponse(413, b"Payload Too Large", [("Content-Type", "text/html")])
        response.headers.extend(self.engine.cors_headers(request))
        return response

    def abandon(self, request: HTTPRequest) -> None:
        """The body of a POST did not come whole (too big, stalled, or the client left):
        close the session it was for, as the reference server does ("data request
        connection closed prematurely")."""
        sid = request.query.get("sid")
        session = None if sid is None else self.engine.sessions.get(sid)
        if session is not None:
            self.engine.close_session(session, CloseReason.TRANSPORT_ERROR, flush=False)

    def begin_post(self, request: HTTPRequest) -> HTTPResponse | None:
        """The head of a POST has come, its body not yet: front doors call this first.

        A second POST for a session whose previous POST body is still being read gets
        400 and closes the session, as in the reference server ("data request overlap
        from client"; docs/protocol-notes.md, "One GET and one POST at a time"). None: go
        on and read the body.
        """
        sid = request.query.get("sid")
        session = None if sid is None else self.engine.sessions.get(sid)
        if session is None:
            return None
        if session.posting:
            self.engine.close_session(session, CloseReason.TRANSPORT_ERROR, flush=False)
            response = error_response(HTTPError.from_code(RequestError.BAD_REQUEST))
            response.headers.extend(self.engine.cors_headers(request))
            return response
        session.posting = True
        return None

    def _end_post(self, request: HTTPRequest) -> None:
        sid = request.query.get("sid")
        session = None if sid is None else self.engine.sessions.get(sid)
        if session is not None:
            session.posting = False

    def _post(self, session: ServerSession, request: HTTPRequest) -> HTTPResponse:
        engine = self.engine
        session.posting = False
        body = request.body
        if len(body) > engine.max_http_buffer_size:
            engine.close_session(session, CloseReason.TRANSPORT_ERROR, flush=False)
            return HTTPResponse(413, b"Payload Too Large", [("Content-Type", "text/html")])
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/octet-stream"):
            engine.close_session(session, CloseReason.PARSE_ERROR, flush=False)
            return error_response(HTTPError.from_code(RequestError.BAD_REQUEST))
        try:
            text = body.decode()
        except UnicodeDecodeError:
            engine.close_session(session, CloseReason.PARSE_ERROR, flush=False)
        else:
            receive = engine.receive
            for part in text.split(SEPARATOR):
                if not receive(session, part):
                    break
        return _ok()

    # -- closing ----------------------------------------------------------------------

    def leave(self, session: ServerSession, items: list[object], respond: Respond | None) -> None:
        """The server closed a polling session with ``items`` still to send: they go
        first, and CLOSE in a response of its own, as the reference server does (its
        transport's "drain", then close); without a held GET, both wait for the next one."""
        engine = self.engine
        now = monotonic()
        if respond is not None:
            respond(engine.poll_response(items))
            items = []
            session.answered = now
        timer = engine.loop.call_later(
            engine.ping_interval + engine.ping_timeout, self._forget, session.sid
        )
        self.closing[session.sid] = (items, timer)
        if now - session.answered < NEXT_POLL:
            self._due[session.sid] = session.answered + NEXT_POLL

    def take_left(self, sid: str) -> list[object] | None:
        """What a session closed mid-upgrade left to send, for its WebSocket; None when a
        GET took it already."""
        left = self._forget(sid)
        if left is None:
            return None
        left[1].cancel()
        return left[0]

    def _closing_answer(self, sid: str, method: str) -> HTTPResponse:
        """A request for a polling session the server closed: the next GET gets what was
        left of it, and the one after CLOSE, in a response of its own (socket.io-client
        handles decoded packets a tick later: CLOSE beside them would come first); a POST
        is answered ``ok`` and dropped."""
        if method != "GET":
            return _ok()
        items, timer = self.closing[sid]
        if items:
            self.closing[sid] = ([], timer)
            return self.engine.poll_response(items)
        self._forget(sid)
        timer.cancel()
        return self.engine.poll_response([CLOSE_TEXT])

    def clear(self) -> None:
        """Forget every closing session (the engine moved to another event loop)."""
        for _, timer in self.closing.values():
            timer.cancel()
        self.closing.clear()
        self._due.clear()
