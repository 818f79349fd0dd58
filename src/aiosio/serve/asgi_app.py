"""The application behind the standalone server: ``aiosio serve main:app``.

The standalone front door answers Socket.IO itself (:class:`~aiosio.serve.http.HTTPConnection`,
the fast path) and hands every other request to an ASGI 3 application: a FastAPI,
Starlette or Django app. :class:`AppFront` is that application with the settings of
serving it (``root_path``, proxy headers, concurrency limit, access log, body limit) and
the connections that serve it; :class:`AppHTTPConnection` is the HTTP connection that
can answer both.

Which requests go where is decided in two steps. Once its URL is read, a request for the
Engine.IO endpoint (every Socket.IO request) goes on exactly as on a server without an
app: :class:`~aiosio.serve.http.HTTPConnection` routes it before its headers come, so it
pays nothing for the app. Any other request keeps its raw headers too, and once its head
is read the client bundle, the router's own routes and static prefixes (and the endpoint
spelled otherwise) stay on the fast path; everything else is an app request, whose body
is streamed to the app (:class:`~aiosio.serve.app_cycle.HTTPCycle`) rather than read
whole first.
A WebSocket handshake on a path that is not the engine's goes to the app as a
``websocket`` scope (:mod:`aiosio.serve.app_websocket`).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httptools

from aiosio.serve.app_cycle import BODY_HIGH_WATER, App, HTTPCycle
from aiosio.serve.app_websocket import AppWebSocket
from aiosio.serve.http import HTTPConnection
from aiosio.serve.lifecycle import Answer, Phase
from aiosio.websocket.handshake import check_key

if TYPE_CHECKING:
    from aiosio.server.http import HTTPResponse
    from aiosio.server.router import Router

__all__ = ["MAX_BODY", "MAX_PIPELINED", "AppFront", "AppHTTPConnection", "AppOptions"]

logger = logging.getLogger("aiosio.serve")

_ASGI = {"version": "3.0", "spec_version": "2.4"}
# App requests read ahead of their answer. Reading pauses after a chunk once 32 wait (as
# for Socket.IO requests), but one chunk of 256 KiB holds thousands of small requests.
MAX_PIPELINED = 128
MAX_BODY = 1024 * 1024 * 1024  # the default of AppOptions.max_body
_PHASE_IDLE, _PHASE_BODY = Phase.IDLE, Phase.BODY
_PHASE_CLOSING, _PHASE_CLOSED = Phase.CLOSING, Phase.CLOSED
_PHASE_UPGRADING = Phase.UPGRADING
_ANSWER_NONE, _ANSWER_DEFERRED = Answer.NONE, Answer.DEFERRED


def _networks(allowed: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """``--forwarded-allow-ips``: comma-separated addresses or networks; None for ``*``."""
    items = [item.strip() for item in allowed.split(",") if item.strip()]
    if "*" in items:
        return None
    return [ipaddress.ip_network(item, strict=False) for item in items]


@dataclass(frozen=True, slots=True)
class AppOptions:
    """How the application is served (the ``aiosio serve`` options of the same names).

    Attributes:
        root_path: The prefix a proxy in front strips (ASGI ``root_path``); the app's
            ``path`` and ``raw_path`` carry it, as ASGI 3 has them.
        proxy_headers: Take the client address and scheme from ``X-Forwarded-For`` and
            ``X-Forwarded-Proto`` when the peer is one of ``forwarded_allow_ips``.
        forwarded_allow_ips: Comma-separated addresses or networks trusted for those
            headers, ``*`` for any.
        limit_concurrency: App requests answered at once; beyond, 503 (None: no limit).
        access_log: One ``aiosio.access`` log line per app request.
        max_body: Request body bytes the app may be sent (413 beyond; None: no limit).
            The body is streamed, so memory stays bounded whatever the limit.
    """

    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    limit_concurrency: int | None = None
    access_log: bool = True
    max_body: int | None = MAX_BODY


@dataclass(slots=True, eq=False)
class AppFront:
    """An ASGI application served beside Socket.IO, and what serving it holds.

    ``state`` is the lifespan state (a shallow copy goes into each request's scope);
    ``connections`` and ``tasks`` are what :meth:`close` ends.
    """

    app: App
    options: AppOptions = field(default_factory=AppOptions)
    state: dict[str, Any] = field(default_factory=dict)
    connections: set[Any] = field(default_factory=set)  # HTTP and WebSocket connections
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closing: bool = False
    _trusted: Any = None

    def __post_init__(self) -> None:
        self._trusted = _networks(self.options.forwarded_allow_ips)

    def trusts(self, host: str) -> bool:
        """Whether a peer's forwarded headers are believed."""
        if not self.options.proxy_headers:
            return False
        if self._trusted is None:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    async def close(self, timeout: float = 5.0) -> None:
        """Close idle connections, give requests in flight ``timeout`` seconds, then end
        what is left (the lifespan shutdown comes after this)."""
        self.closing = True
        for connection in list(self.connections):
            connection.close_if_idle()
        tasks = list(self.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for task in self.tasks:
            task.cancel()
        for connection in list(self.connections):
            connection.abort()


def _decoded(raw_path: bytes) -> str:
    """The path of the scope: percent-decoded (what a path without ``%`` needs no call for)."""
    path = raw_path.decode("latin-1")
    return unquote(path) if "%" in path else path


@functools.cache  # per connection, and the same for all of them
def _engine_url(path: str) -> bytes | None:
    """How the URL of every Socket.IO request line begins: the Engine.IO path and the
    ``?`` of its query, when the path needs no decoding (None when it would: such a path
    is only found the long way, as is a request for the bare path)."""
    if "%" in path or not path.isascii():
        return None
    return path.encode("ascii") + b"?"


def _forwarded(front: AppFront, scope: MutableMapping[str, Any], headers: dict[str, str]) -> None:
    """Apply ``X-Forwarded-For``/``-Proto`` to ``scope`` (the peer is trusted)."""
    proto = headers.get("x-forwarded-proto")
    if proto:
        scheme = proto.split(",")[0].strip().lower()
        if scheme in ("http", "https", "ws", "wss"):
            scope["scheme"] = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    hops = headers.get("x-forwarded-for")
    if hops:
        chain = [hop.strip() for hop in hops.split(",") if hop.strip()]
        # The nearest hop that is not a trusted proxy is the client.
        for hop in reversed(chain):
            if not front.trusts(hop) or hop == chain[0]:
                scope["client"] = (hop, 0)
                break


class AppHTTPConnection(HTTPConnection):
    """An HTTP connection of a server with an application: Socket.IO requests as
    :class:`HTTPConnection` answers them, the others through the app's ASGI cycle."""

    __slots__ = (
        "_current",
        "_cycle",
        "_proxied",
        "_server",
        "_tls",
        "_websocket",
        "front",
    )

    # Each Socket.IO connection is one of these: the base class's methods are called by
    # name, not through ``super()``, whose object would be made on each call (Python 3.11).

    def __init__(self, router: Router, front: AppFront) -> None:
        HTTPConnection.__init__(self, router)
        self.front = front
        self._routing = True
        self._engine_url = _engine_url(router.path)
        self._cycle: HTTPCycle | None = None  # the app request whose body is being read
        self._current: HTTPCycle | None = None  # the app request being answered
        # What the scope of an app request needs of the connection: None until the first
        # one asks, so that a Socket.IO connection never pays for it. The peer is a
        # trusted proxy (its X-Forwarded-* count); the local address; TLS.
        self._proxied: bool | None = None
        self._server: tuple[str, int] | None = None
        self._tls = False
        self._websocket: AppWebSocket | None = None  # a handshake the app has not answered

    # -- connection -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        HTTPConnection.connection_made(self, transport)
        self.front.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        for cycle in (self._cycle, self._current):
            if cycle is not None:
                cycle.disconnect()
        self._cycle = self._current = None
        websocket, self._websocket = self._websocket, None
        if websocket is not None:
            websocket.lost()
        super().connection_lost(exc)
        self.front.connections.discard(self)

    def abort(self) -> None:
        transport = self.transport
        if transport is not None:
            transport.abort()

    def resume_writing(self) -> None:
        current = self._current
        if current is not None:
            current.writable()
        super().resume_writing()

    def _flow(self) -> None:
        cycle = self._cycle
        if cycle is not None and cycle.buffered > BODY_HIGH_WATER:
            transport = self.transport
            if transport is not None and self._reading:
                self._reading = False
                transport.pause_reading()
            return
        super()._flow()

    # -- the app's requests (HTTPConnection routes them here) --------------------------

    def _app_head(self) -> bool:
        url = httptools.parse_url(self._url)
        raw_path: bytes = url.path or b"/"
        path = _decoded(raw_path)
        if self._for_router(path):
            self._raw = None  # the router's after all: read on as a Socket.IO request
            return False
        self._phase = _PHASE_BODY
        self._arm(self.limits.body_timeout)
        front = self.front
        options = front.options
        length = self._headers.get("content-length")
        if (
            options.max_body is not None
            and length is not None
            and length.isdigit()
            and int(length) > options.max_body
        ):
            self._refuse(413)
            return True
        if len(self._queue) >= MAX_PIPELINED:
            self._refuse(503)  # a flood no real client sends, parsed from one chunk
            return True
        limit = options.limit_concurrency
        if front.closing or (limit is not None and len(front.tasks) >= limit):
            self._refuse(503)
            return True
        keep_alive = self.parser.should_keep_alive() and not front.closing
        cycle = self._cycle = HTTPCycle(
            self,
            self._scope(path, raw_path, url.query or b""),
            keep_alive=keep_alive,
            expect_continue=self._headers.get("expect", "").lower() == "100-continue",
        )
        if self._answer is _ANSWER_NONE and not self._write_paused and not self._queue:
            self._dispatch(self._start, cycle, keep_alive)  # type: ignore[arg-type]
        else:
            self._queue.append((self._start, cycle, keep_alive))  # type: ignore[arg-type]
            self._flow()
        return True

    def _for_router(self, path: str) -> bool:
        """Whether a request stays with the router (the engine, its bundle, its routes,
        its static folders) rather than going to the app."""
        router = self.router
        if router.claims(path) or path in router.routes:
            return True
        static = router.static_files
        return bool(static) and any(path.startswith(prefix) for prefix in static)

    def _scope(
        self, path: str, raw_path: bytes, query: bytes, kind: str = "http"
    ) -> dict[str, Any]:
        proxied = self._proxied
        if proxied is None:  # once per connection, on its first app request
            proxied = self._learn()
        root = self.front.options.root_path
        tls = self._tls
        scope: dict[str, Any] = {
            "type": kind,
            "asgi": _ASGI,
            "http_version": self.parser.get_http_version(),
            "server": self._server,
            "client": self.client,
            "scheme": ("https" if tls else "http") if kind == "http" else ("wss" if tls else "ws"),
            "method": self.parser.get_method().decode("ascii"),
            "root_path": root,
            "path": root + path if root else path,
            "raw_path": root.encode() + raw_path if root else raw_path,
            "query_string": query,
            "headers": self._raw,
            "state": dict(self.front.state),
        }
        if proxied:
            _forwarded(self.front, scope, self._headers)
            if kind == "websocket":
                scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
        return scope

    def _learn(self) -> bool:
        """Learn what app requests' scopes need of the connection; return whether the peer
        is a trusted proxy."""
        transport = self.transport
        if transport is not None:
            local = transport.get_extra_info("sockname")
            if isinstance(local, tuple):
                self._server = (str(local[0]), int(local[1]))
            self._tls = transport.get_extra_info("sslcontext") is not None
        client = self.client
        proxied = self._proxied = client is not None and self.front.trusts(client[0])
        return proxied

    def _app_body(self, body: bytes) -> None:
        cycle = self._cycle
        assert cycle is not None  # _app_head took the request, or refused it (not BODY)
        cycle.feed(body)
        self._body_size += len(body)
        limit = self.front.options.max_body
        if limit is not None and self._body_size > limit:
            self._refuse(413)
            return
        self._arm(self.limits.body_timeout)
        if cycle.buffered > BODY_HIGH_WATER:
            self._flow()

    def _app_end(self) -> None:
        cycle = self._cycle
        assert cycle is not None
        self._phase = _PHASE_IDLE
        self._cycle = None
        if self._answer is _ANSWER_NONE:
            self._arm(self.limits.header_timeout)  # answered already: idle from now
        else:
            self._disarm()
        if not self.parser.should_keep_alive():
            self._final = True
        cycle.end()
        self._flow()

    def _refuse_with(self, response: HTTPResponse) -> None:
        # A refusal while the app answers (a body deadline, a body limit): the app sees
        # the client go; if its response has begun, the connection just ends.
        for cycle in (self._cycle, self._current):
            if cycle is not None:
                cycle.disconnect()
                if cycle.started:
                    self._phase = _PHASE_CLOSING
                    self._shutdown()
                    return
        super()._refuse_with(response)

    # -- the app's WebSockets ---------------------------------------------------------

    def _app_upgrade(self, rest: bytes) -> bool:
        url = httptools.parse_url(self._url)
        raw_path: bytes = url.path or b"/"
        path = _decoded(raw_path)
        if self._for_router(path):
            return False
        headers = self._headers
        if (
            self.parser.get_method() != b"GET"
            or headers.get("upgrade", "").lower() != "websocket"
            or headers.get("sec-websocket-version") != "13"
            or not check_key(headers.get("sec-websocket-key", ""))
            or self._answer is not _ANSWER_NONE
            or self.transport is None
        ):
            self._refuse(400, b"Bad WebSocket handshake")
            return True
        self._disarm()
        scope = self._scope(path, raw_path, url.query or b"", "websocket")
        del scope["method"]
        offered = headers.get("sec-websocket-protocol", "")
        scope["subprotocols"] = [item.strip() for item in offered.split(",") if item.strip()]
        scope["extensions"] = {"websocket.http.response": {}}
        self._phase = _PHASE_UPGRADING
        self._pending = bytearray(rest)  # kept (within a bound) until the app answers
        websocket = self._websocket = AppWebSocket(
            scope,
            self.stats,
            self.transport,
            self._give_transport,
            close_timeout=self.limits.close_timeout,
        )
        websocket.start(self.front.app)
        task = websocket.task
        assert task is not None
        self.front.tasks.add(task)
        task.add_done_callback(self.front.tasks.discard)
        self._hold(b"")
        return True

    def _give_transport(self, websocket: AppWebSocket) -> tuple[asyncio.Transport, bytes] | None:
        """The app answered the handshake: the transport goes to its WebSocket."""
        transport = self.transport
        if transport is None or websocket is not self._websocket:
            return None
        self._websocket = None
        rest, self._pending = bytes(self._pending or b""), None
        self._hand_over(transport)
        front = self.front
        if not front.closing:
            front.connections.add(websocket)
            task = websocket.task
            if task is not None:
                task.add_done_callback(lambda _: front.connections.discard(websocket))
        return transport, rest

    def _hand_over(self, transport: asyncio.Transport) -> None:
        # Gone from the front's connections too, whoever takes the transport (a Socket.IO
        # WebSocket or the app's): kept there, each upgraded connection would stay alive
        # as long as the server, and shutdown would walk them all.
        HTTPConnection._hand_over(self, transport)
        self.front.connections.discard(self)

    # -- answering --------------------------------------------------------------------

    def _start(self, cycle: HTTPCycle, respond: object) -> Callable[[], None]:
        """Answer an app request (its turn has come): run the app on its cycle, which
        writes the response itself. The router's requests are answered by the router's
        own handler: one bound to this connection and kept on it would make every
        connection a reference cycle, freed only by the collector."""
        self._current = cycle
        cycle.start(self.front.app, self._finished)
        task = cycle.task
        assert task is not None
        self.front.tasks.add(task)
        return cycle.disconnect

    def _finished(self, cycle: HTTPCycle) -> None:
        task = cycle.task
        if task is not None:
            self.front.tasks.discard(task)
        if self.front.options.access_log:
            cycle.log_access()

    # -- CycleOwner -------------------------------------------------------------------

    def cycle_write(self, data: bytes) -> bool:
        phase = self._phase
        if phase is _PHASE_CLOSING or phase is _PHASE_CLOSED:
            return True
        self._write(data)
        return not self._write_paused

    def cycle_read(self) -> None:
        if not self._reading:
            self._flow()

    def cycle_done(self, cycle: HTTPCycle) -> None:
        if cycle is not self._current:
            return
        self._current = None
        if self._answer is not _ANSWER_DEFERRED:
            return
        self._answer = _ANSWER_NONE
        self._abort = None
        phase = self._phase
        if self.transport is None or phase is _PHASE_CLOSING or phase is _PHASE_CLOSED:
            return
        # A body still coming when the answer is complete: the connection ends rather
        # than reading (and dropping) the rest of it.
        keep_alive = cycle.keep_alive and not cycle.more_body and not self.front.closing
        keep_alive = keep_alive and not self._ending  # the server closes: the last answer
        self._next(_ANSWER_DEFERRED, keep_alive)

    def cycle_abort(self) -> None:
        self._current = None
        self._phase = _PHASE_CLOSING
        transport = self.transport
        if transport is not None:
            transport.close()
