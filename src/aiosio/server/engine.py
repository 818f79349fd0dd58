"""EngineServer: Engine.IO v4 sessions run under asyncio, behind either front door.

The front doors (``aiosio.serve`` and ``aiosio.asgi``) turn HTTP requests and WebSocket
messages into calls on :class:`EngineServer`; the engine answers through callbacks, so a
long-poll or a WebSocket costs no task of its own. Everything a session sends in one loop
iteration leaves in one write (corking): sending appends to the session's outbox and marks
it dirty, and one ``call_soon`` per iteration flushes every dirty session.

What the protocol decides (heartbeat, the upgrade's steps, close reasons, the packets'
texts) is in :mod:`aiosio.engineio`; HTTP long-polling is in :mod:`aiosio.server.polling`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from time import monotonic  # the clock loop.time() reads, without its Python call
from typing import Any, TypedDict, TypeVar, Unpack

from aiosio.engineio.handshake import HTTPError, RequestError, check_request
from aiosio.engineio.packets import CLOSE_TEXT, PROBE_PONG, open_payload
from aiosio.engineio.session import CloseReason, State, TimerEvent, UpgradeEvent
from aiosio.engineio.wire import Wire, compressible, payload_of
from aiosio.exceptions import RemoteProtocolError
from aiosio.server.admission import Admission, RateOption
from aiosio.server.backpressure import marks, pause
from aiosio.server.http import (
    HTTPCompression,
    HTTPRequest,
    HTTPResponse,
    check_origin,
    cors_headers,
    poll_headers,
    set_cookie,
)
from aiosio.server.polling import LongPolling
from aiosio.server.session import EngineHandler, ServerSession, WebSocketTransport
from aiosio.server.stats import Counters
from aiosio.websocket.deflate import ServerDeflate

__all__ = [
    "EngineHandler",
    "EngineOptions",
    "EngineServer",
    "HTTPRequest",
    "HTTPResponse",
    "ServerSession",
    "WebSocketTransport",
    "Wire",
]

logger = logging.getLogger("aiosio.engine")

T = TypeVar("T")

_INF = float("inf")


class EngineOptions(TypedDict, total=False):
    """The Engine.IO options of a server: :class:`EngineServer`'s keywords, which
    :class:`aiosio.Server` takes too. Durations are in seconds; the defaults are in brackets.

    Attributes:
        ping_interval: Seconds between the server's PINGs (25).
        ping_timeout: Seconds a PONG may take before the session closes (20).
        upgrade_timeout: Seconds an upgrade from polling to WebSocket may take (10).
        max_http_buffer_size: The largest message, or polling POST body, accepted in bytes
            (1 000 000); four times it bounds what may wait to be sent to one session.
        transports: The transports clients may use (``("polling", "websocket")``).
        allow_upgrades: Whether a polling session may upgrade to WebSocket (True).
        cors_allowed_origins: The origins allowed to connect: ``"*"``, one origin or a
            list of them; None (the default) sends no CORS headers and checks no origin.
        cors_credentials: Whether CORS answers allow credentials (True).
        allow_request: Called with each handshake's :class:`HTTPRequest` (an async
            function too); a falsy verdict refuses the connection (None: all are allowed).
        cookie: The session cookie: True for ``io``, a name, or a mapping of its
            attributes (``name``, ``path``, ``httponly``, ``samesite``, ``secure``);
            None (the default) sets none.
        max_buffered_packets: Packets that may wait for a long-poll of one session before
            it is closed as too slow (1000).
        high_water_mark: Bytes buffered for a session above which its sockets are not
            ``writable`` (a quarter of the hard limit, ``4 x max_http_buffer_size``).
        low_water_mark: Bytes under which ``drain()`` returns (a quarter of the high mark).
        per_message_deflate: WebSocket compression: False (the default), True, or the
            keywords of :class:`~aiosio.websocket.deflate.ServerDeflate`.
        http_compression: Polling responses' compression: True (the default), False, or
            the keywords of :class:`~aiosio.server.http.HTTPCompression`.
        max_sessions: Sessions open at once; a handshake beyond gets 503 (None: no cap).
        max_sessions_per_ip: Sessions open at once per client address; 429 beyond (None).
        handshakes_per_ip: Handshakes per second per client address, a number or
            ``(per_s, burst)``; 429 beyond (None: no limit).
        connections_per_ip: TCP connections per second per client address on the
            standalone server, as ``handshakes_per_ip``; 429 beyond (None: no limit).
    """

    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    max_http_buffer_size: int
    transports: Sequence[str]
    allow_upgrades: bool
    cors_allowed_origins: str | Sequence[str] | None
    cors_credentials: bool
    allow_request: Callable[[HTTPRequest], Any] | None
    cookie: str | Mapping[str, Any] | bool | None
    max_buffered_packets: int
    high_water_mark: int
    low_water_mark: int
    per_message_deflate: bool | Mapping[str, Any]
    http_compression: bool | Mapping[str, Any]
    max_sessions: int | None
    max_sessions_per_ip: int | None
    handshakes_per_ip: RateOption
    connections_per_ip: RateOption


class EngineServer:
    """All Engine.IO sessions of one server.

    Long-polling requests are answered by :attr:`polling` (:mod:`aiosio.server.polling`);
    its entry points are this engine's attributes, bound once, so a front door's call
    costs no extra layer.
    """

    handle_request: Callable[
        [HTTPRequest, Callable[[HTTPResponse], None]], Callable[[], None] | None
    ]
    """Answer a polling or handshake request (:meth:`LongPolling.handle_request`)."""
    begin_post: Callable[[HTTPRequest], HTTPResponse | None]
    """The head of a POST has come (:meth:`LongPolling.begin_post`)."""

    def __init__(self, handler: EngineHandler, **options: Unpack[EngineOptions]) -> None:
        unknown = options.keys() - EngineOptions.__optional_keys__
        if unknown:
            raise TypeError(f"unexpected keyword argument {min(unknown)!r}")
        self.handler = handler
        # Node's defaults: WebSocket compression off, HTTP compression on (threshold 1 KiB).
        self.per_message_deflate = _configured(
            ServerDeflate, options.get("per_message_deflate", False)
        )
        self.http_compression = _configured(HTTPCompression, options.get("http_compression", True))
        self.ping_interval = options.get("ping_interval", 25.0)
        self.ping_timeout = options.get("ping_timeout", 20.0)
        self.upgrade_timeout = options.get("upgrade_timeout", 10.0)
        self.max_http_buffer_size = options.get("max_http_buffer_size", 1_000_000)
        self.transports = tuple(options.get("transports", ("polling", "websocket")))
        self.allow_upgrades = options.get("allow_upgrades", True)
        origins = options.get("cors_allowed_origins")
        # A single origin is kept as a one-element tuple: ``origin in "http://a.com"``
        # would be a substring test.
        self.cors_allowed_origins: str | tuple[str, ...] | None = (
            origins
            if origins is None or origins == "*"
            else (origins,)
            if isinstance(origins, str)
            else tuple(origins)
        )
        self.cors_credentials = options.get("cors_credentials", True)
        self.allow_request = options.get("allow_request")
        self.cookie = options.get("cookie")
        self.max_buffered_packets = options.get("max_buffered_packets", 1000)
        self.max_buffered_bytes = 4 * self.max_http_buffer_size
        self.high_water_mark, self.low_water_mark = marks(options, self.max_buffered_bytes)
        self.stats = Counters()
        self.admission = Admission.configured(self.stats, options)  # None: no checks
        self.closing = False  # handshakes refused: the port may be open for CLOSEs owed
        self.sessions: dict[str, ServerSession] = {}
        self._dirty: list[ServerSession] = []
        self._flush_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        polling = self.polling = LongPolling(self)
        self.handle_request = polling.handle_request
        self.begin_post = polling.begin_post
        # No more attributes than 29 (tests/server/test_engine.py says why): the polling
        # error paths (abandon, refuse_too_large) are reached through self.polling.

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    # -- flushing ---------------------------------------------------------------------

    def mark_dirty(self, session: ServerSession) -> None:
        """Schedule a flush of ``session`` at the end of this loop iteration."""
        self._dirty.append(session)
        if self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            session.dirty = False
            if session.outbox and session.state is not State.CLOSED:
                self.flush(session)

    def flush(self, session: ServerSession) -> None:
        """Send what ``session`` queued now (the ASGI door sends its replies before it reads on)."""
        ws = session.ws
        if ws is not None:
            items = session.take_outbox()
            self.stats.packets_out += len(items)
            ws.send_items(items)
            if (buffered := ws.buffered()) > self.high_water_mark:
                if buffered > self.max_buffered_bytes:
                    self.close_session(session, CloseReason.BUFFER_FULL, flush=False)
                else:
                    pause(session)
            return
        respond = session.poll
        if respond is not None and session.state is State.OPEN:
            session.poll, session.answered = None, monotonic()
            respond(self.poll_response(session.take_outbox()))
        elif (
            len(session.outbox) > self.max_buffered_packets
            or session.queued > self.max_buffered_bytes
        ):
            self.close_session(session, CloseReason.BUFFER_FULL, flush=False)
        elif session.queued > self.high_water_mark:
            pause(session)

    def poll_response(self, items: list[object]) -> HTTPResponse:
        """The answer to a GET carrying ``items``."""
        self.stats.packets_out += len(items)
        return HTTPResponse(200, payload_of(items), poll_headers(), compressible(items))

    # -- timers -----------------------------------------------------------------------

    def _schedule_timer(self, session: ServerSession) -> None:
        when = session.get_timer()
        if when != _INF:
            session.timer = self.loop.call_at(when, self._on_timer, session, when)

    def _on_timer(self, session: ServerSession, when: float) -> None:
        session.timer = None
        event = session.handle_timer(max(self.loop.time(), when))
        if event is TimerEvent.PING:
            self.flush(session)
        elif event is TimerEvent.TIMED_OUT:
            self._finish(session, flush=False)
            return
        elif event is TimerEvent.UPGRADE_EXPIRED:
            ws, session.upgrade_ws = session.upgrade_ws, None
            if ws is not None:
                ws.close(1000)
        self._schedule_timer(session)

    # -- HTTP (handshake and long-polling) ---------------------------------------------

    def cors_headers(self, request: HTTPRequest) -> list[tuple[str, str]]:
        """CORS headers for a response; none unless ``cors_allowed_origins`` is set."""
        return cors_headers(self.cors_allowed_origins, self.cors_credentials, request)

    def check_origin(self, request: HTTPRequest) -> HTTPError | None:
        """Refuse a cross-origin request that ``cors_allowed_origins`` does not allow
        (WebSocket upgrades too: cross-site WebSocket hijacking)."""
        return check_origin(self.cors_allowed_origins, request)

    def _transport_of(self, sid: str) -> str | None:
        session = self.sessions.get(sid)
        if session is None:
            return "polling" if sid in self.polling.closing else None
        return session.transport

    def check(self, request: HTTPRequest, *, websocket: bool) -> HTTPError | None:
        """The reference server's checks, then the origin check; None when all pass."""
        code = check_request(
            request.method,
            request.query,
            is_upgrade=websocket,
            transports=self.transports,
            session_transport=self._transport_of,
        )
        if code is None and websocket and request.query.get("transport") != "websocket":
            # A WebSocket handshake for polling: the reference server completes it and
            # closes the socket at once; refusing before 101 is cleaner
            # (docs/protocol-notes.md, "Failed WebSocket handshakes").
            code = RequestError.BAD_REQUEST
        if code is not None:
            return HTTPError.from_code(code)
        return self.check_origin(request)

    def authorize(self, request: HTTPRequest, done: Callable[[HTTPError | None], None]) -> None:
        """Run ``allow_request`` on a handshake (either transport); tell ``done`` the verdict.

        ``done`` gets None to proceed or the 403 refusal (code 4). Requests with a sid are
        not handshakes and always pass, as in the reference server. ``done`` is called at
        once unless ``allow_request`` returns an awaitable, which is then awaited in a task
        owned by the engine.
        """
        if "sid" in request.query:
            done(None)
            return
        if self.closing:  # the server is closing: no new session
            return done(HTTPError(503, b"Server shutting down", "text/plain"))
        if self.admission is not None:
            refusal = self.admission.check(request, self.loop.time())
            if refusal is not None:
                done(refusal)
                return
        allow = self.allow_request
        if allow is None:
            done(None)
            return
        try:
            verdict = allow(request)
        except Exception:
            logger.exception("allow_request failed; refusing the handshake")
            verdict = False
        if inspect.isawaitable(verdict):
            self.spawn(self._authorize_async(verdict, done))
            return
        done(None if verdict else HTTPError.from_code(RequestError.FORBIDDEN))

    async def _authorize_async(
        self, verdict: Awaitable[Any], done: Callable[[HTTPError | None], None]
    ) -> None:
        try:
            allowed = await verdict
        except Exception:
            logger.exception("allow_request failed; refusing the handshake")
            allowed = False
        done(None if allowed else HTTPError.from_code(RequestError.FORBIDDEN))

    def open_packet(self, session: ServerSession, upgrades: list[str]) -> str:
        return open_payload(
            session.sid,
            upgrades=upgrades,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_payload=self.max_http_buffer_size,
        )

    def new_session(self, request: HTTPRequest, transport: str) -> ServerSession:
        sid = request.new_sid or secrets.token_urlsafe(16)
        session = ServerSession(self, sid, transport, self.loop.time())
        self.sessions[sid] = session
        self.stats.sessions_opened += 1
        if self.admission is not None:
            self.admission.opened(sid, request)
        self._schedule_timer(session)
        return session

    def opened(self, session: ServerSession, request: HTTPRequest) -> None:
        try:
            self.handler.on_open(session, request)
        except Exception:
            logger.exception("on_open failed; closing the session")
            self.close_session(session, CloseReason.TRANSPORT_ERROR, flush=False)

    def cookie_header(self, sid: str) -> str | None:
        """The ``Set-Cookie`` value for a new session, when the ``cookie`` option is on."""
        return set_cookie(self.cookie, sid)

    def receive(self, session: ServerSession, data: str | bytes) -> bool:
        """Feed one packet to the session; False once the session is closed."""
        self.stats.packets_in += 1
        try:
            # A packet while a pong is awaited (docs/protocol-notes.md, "Heartbeat").
            if session.pong_extendable:
                message = session.receive(data, self.loop.time())
            else:
                message = session.receive(data)
        except RemoteProtocolError as exc:
            logger.debug("closing %s: %s", session.sid, exc)
            self._finish(session, flush=False)
            return False
        if message is not None:
            try:
                self.handler.on_message(session, message)
            except RemoteProtocolError as exc:
                logger.debug("closing %s: %s", session.sid, exc)
                self.close_session(session, CloseReason.PARSE_ERROR, flush=False)
                return False
            except Exception:
                logger.exception("on_message failed; closing %s", session.sid)
                self.close_session(session, CloseReason.TRANSPORT_ERROR, flush=False)
                return False
            return session.state is not State.CLOSED
        if session.state is State.CLOSED:
            # The client sent CLOSE: a held GET gets NOOP (protocol-notes, "Closing a session").
            self.polling.end_poll(session)
            self._finish(session, flush=False)
            return False
        timer = session.timer
        if timer is not None and session.get_timer() < timer.when():
            # A PONG: the next event is the next PING, due before the pong deadline that
            # the timer was set for (it matters when ping_timeout > ping_interval).
            timer.cancel()
            self._schedule_timer(session)
        return True

    # -- WebSocket --------------------------------------------------------------------

    def websocket_headers(self, request: HTTPRequest) -> list[tuple[str, str]]:
        """Headers for the answer to a checked WebSocket handshake (the 101, or the ASGI
        ``websocket.accept``): ``Set-Cookie`` for a WebSocket-only session, as the reference
        server sends, when the ``cookie`` option is on. The sid is chosen here."""
        if not self.cookie or "sid" in request.query:
            return []
        sid = request.new_sid = secrets.token_urlsafe(16)
        return [("Set-Cookie", self.cookie_header(sid) or "")]

    def open_websocket(self, request: HTTPRequest, ws: WebSocketTransport) -> ServerSession | None:
        """A checked WebSocket handshake has completed; return the session it serves.

        Without a sid this opens a WebSocket-only session. With one, it is the upgrade of a
        polling session; a second WebSocket for the same session is closed at once (None).
        """
        sid = request.query.get("sid")
        if sid is None:
            created = self.new_session(request, "websocket")
            created.ws = ws
            ws.send_items([self.open_packet(created, [])])
            self.opened(created, request)
            # on_open may have closed it already.
            return None if created.state is State.CLOSED else created
        session = self.begin_upgrade(sid, ws)
        if session is None:
            ws.close(1000)
        return session

    def begin_upgrade(self, sid: str, ws: WebSocketTransport) -> ServerSession | None:
        """Make ``ws`` the upgrade of the polling session ``sid``; return that session, or
        None if there is none to upgrade (unknown sid, an upgrade under way, upgrades off)."""
        session = self.sessions.get(sid) if self.allow_upgrades else None
        if session is None or session.upgrade_ws is not None or session.transport != "polling":
            return None
        session.upgrade_ws = ws
        return session

    def websocket_message(
        self, session: ServerSession, ws: WebSocketTransport, data: str | bytes
    ) -> None:
        """One WebSocket message arrived for ``session``."""
        if session.ws is ws:
            self.receive(session, data)
        elif session.upgrade_ws is ws:
            self._upgrade_step(session, ws, data)

    def _upgrade_step(
        self, session: ServerSession, ws: WebSocketTransport, data: str | bytes
    ) -> None:
        # A WebTransport stream says so (serve/webtransport.py); WebSockets need not.
        name = getattr(ws, "transport_name", "websocket")
        event = session.upgrade_step(data, self.loop.time(), name)
        if event is UpgradeEvent.PROBED:
            ws.send_items([PROBE_PONG])
            self.polling.end_poll(session)
            if session.timer is not None:
                session.timer.cancel()
            self._schedule_timer(session)
        elif event is UpgradeEvent.UPGRADED:
            session.ws, session.upgrade_ws = ws, None
            if session.outbox:
                self.flush(session)
        else:
            session.upgrade_ws = None
            if session.state is State.CLOSED and session.timer is not None:
                session.timer.cancel()  # _drop_probe's: the server closed mid-upgrade
                session.timer = None
            if event is UpgradeEvent.CLOSED_UPGRADED:
                # The paused client polls no more: what was left goes over the WebSocket,
                # as in the reference server, unless a GET took it first.
                left = self.polling.take_left(session.sid)
                if left is not None:
                    self.stats.packets_out += len(left)
                    ws.send_items(left)
            ws.close(1000)

    def websocket_closed(
        self, session: ServerSession, ws: WebSocketTransport, *, error: bool = False
    ) -> None:
        """The WebSocket of ``session`` closed (or failed)."""
        if session.upgrade_ws is ws:
            session.upgrade_ws = None
            session.abort_upgrade()
        elif session.ws is ws and session.state is not State.CLOSED:
            reason = CloseReason.TRANSPORT_ERROR if error else CloseReason.TRANSPORT_CLOSE
            session.close(reason)
            self._finish(session, flush=False)

    def websocket_error(self, session: ServerSession, ws: WebSocketTransport, reason: str) -> None:
        """The WebSocket broke the protocol (bad frame, too big): close with ``reason``."""
        if session.ws is ws and session.state is not State.CLOSED:
            session.close(reason)
            self._finish(session, flush=False)
        else:
            self.websocket_closed(session, ws)

    # -- closing ----------------------------------------------------------------------

    def close_session(self, session: ServerSession, reason: str, *, flush: bool = True) -> None:
        """Close a session from the server side, writing what is queued first."""
        if session.state is State.CLOSED:
            return
        items = session.take_outbox() if flush else []
        session.close(reason)
        session.outbox = items
        self._finish(session, flush=flush)

    def _finish(self, session: ServerSession, *, flush: bool) -> None:
        """Release everything of a closed session and tell the handler, exactly once."""
        if self.sessions.pop(session.sid, None) is None:
            return
        if self.admission is not None:
            self.admission.closed(session.sid)
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        items = session.take_outbox() if flush else []
        ws, session.ws = session.ws, None
        if ws is not None:
            if items:
                ws.send_items(items)
            ws.close(1000)
        upgrade_ws, session.upgrade_ws = session.upgrade_ws, None
        respond, session.poll = session.poll, None
        if upgrade_ws is not None:
            if flush and ws is None and respond is None and session.transport == "polling":
                # Mid-upgrade: the probe WebSocket may yet carry what is left (see
                # _upgrade_step), within the upgrade timeout.
                session.upgrade_ws = upgrade_ws
                session.timer = self.loop.call_later(
                    self.upgrade_timeout, self._drop_probe, session, upgrade_ws
                )
            else:
                upgrade_ws.close(1000)
        if flush and ws is None and session.transport == "polling" and (items or respond is None):
            self.polling.leave(session, items, respond)
        elif respond is not None:
            respond(self.poll_response([*items, CLOSE_TEXT]))
        reason = session.close_reason or CloseReason.TRANSPORT_CLOSE
        self.stats.closed(reason)
        try:
            self.handler.on_close(session, reason)
        except Exception:
            logger.exception("on_close failed for %s", session.sid)

    def _drop_probe(self, session: ServerSession, ws: WebSocketTransport) -> None:
        session.timer = None
        if session.upgrade_ws is ws:
            session.upgrade_ws = None
            ws.close(1000)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a coroutine as a task owned by the engine (cancelled in :meth:`close`)."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def bind(self) -> None:
        """Serve from the running loop. What the engine holds of another loop (one that
        an earlier ``asyncio.run`` closed) is dropped: its handles would answer every
        request with "Event loop is closed"."""
        loop = asyncio.get_running_loop()
        stale = self._loop
        self._loop = loop
        if stale is None or stale is loop:
            return
        self._flush_handle = None
        self._dirty = []
        self.polling.clear()
        self.sessions.clear()
        if self.admission is not None:
            self.admission.forget_sessions()
        self._tasks.clear()

    def abort(self) -> None:
        """Close every session ("server shutting down") and cancel the engine's tasks,
        without waiting for them: the forced end of a shutdown."""
        for session in list(self.sessions.values()):
            self.close_session(session, CloseReason.SERVER_SHUTTING_DOWN)
        for task in list(self._tasks):
            task.cancel()

    async def close(self) -> None:
        """Close every session ("server shutting down") and cancel the engine's tasks."""
        self.abort()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _configured(cls: Callable[..., T], option: bool | Mapping[str, Any]) -> T | None:
    """An option that is off (falsy), on with the defaults (True) or on with settings."""
    if not option:
        return None
    return cls() if option is True else cls(**option)
