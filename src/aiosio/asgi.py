"""The ASGI front door: aiosio under uvicorn, or mounted inside FastAPI or Starlette.

:class:`ASGIApp` speaks ASGI 3 directly to the same :class:`~aiosio.server.router.Router`
and :class:`~aiosio.server.engine.EngineServer` as the standalone server:

* ``http`` under the engine path: the body is read with the ``max_http_buffer_size`` limit
  (413 from the Content-Length header alone, or as soon as the streamed bytes go over),
  then the engine answers through a callback. While a long-poll is held, the app listens
  for ``http.disconnect`` and aborts the poll when the client goes away
  (docs/protocol-notes.md, "One GET and one POST at a time").
* other ``http`` paths: the client bundle and static files, else ``other_app`` with the
  original ``scope``/``receive``/``send`` (no buffering), else 404.
* ``websocket`` under the engine path: the engine's checks and ``allow_request`` run before
  the handshake is accepted; then this coroutine pumps received messages into the engine
  and, when there is nothing more to read, sends their replies itself; a writer task per
  WebSocket sends the rest (broadcasts, heartbeats, the close), in order
  (:mod:`aiosio.asgi_websocket`).
* ``lifespan``: forwarded to ``other_app`` when there is one, else answered here; either
  way the engine is closed at shutdown.

ASGI servers close their connections before the lifespan shutdown, and a held long-poll
keeps an HTTP connection busy for up to ``ping_interval``: call ``await engine.close()``
first for a quick shutdown (``Server.close()`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from functools import partial
from http import HTTPStatus
from types import CoroutineType, coroutine
from typing import Any, TypeAlias

from aiosio._handlers import PARKED, Suspended, run_eagerly, until_parked
from aiosio.asgi_disconnect import DisconnectWatch
from aiosio.asgi_websocket import ASGIWebSocket
from aiosio.engineio.handshake import HTTPError
from aiosio.engineio.session import CloseReason, State
from aiosio.server.backpressure import drained
from aiosio.server.engine import EngineServer, ServerSession
from aiosio.server.http import HTTPRequest, HTTPResponse, parse_query
from aiosio.server.router import Limits, Router, not_found
from aiosio.websocket.frames import CloseCode

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

logger = logging.getLogger("aiosio.asgi")

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]


def _routing_path(scope: Scope, router: Router) -> str:
    """The path to route a request on, inside a mount or not.

    Mounted under a prefix (Starlette's or FastAPI's ``app.mount(prefix, io.asgi_app())``),
    ``root_path`` is the prefix and ``path`` the whole path (older servers strip the
    prefix from ``path`` themselves). Either the app's ``path`` option is relative to the
    mount (``mount("/realtime", ...)`` with clients on ``/realtime/socket.io/``) or it is
    the whole path (``mount("/socket.io", ...)``, as users write it, with clients on the
    default ``/socket.io/``): the path without the prefix wins when the router claims it,
    else the whole path when the router claims that, else (static files, ``other_app``)
    the path without the prefix.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root:
        return path
    if path.startswith(root):
        inner, whole = path[len(root) :] or "/", path
    else:
        inner, whole = path, root.rstrip("/") + path
    if not router.claims(inner) and router.claims(whole):
        return whole
    return inner


# Header names as the engine reads them (str, lower case), by the bytes the ASGI server
# gives: a client sends the same dozen names on every request. Bounded: a client may make
# up names.
_HEADER_NAMES: dict[bytes, str] = {}
_MAX_HEADER_NAMES = 256


def _request(scope: Scope, router: Router, body: bytes = b"") -> HTTPRequest:
    """The engine's view of an ASGI ``http`` or ``websocket`` scope."""
    raw_query = scope.get("query_string", b"").decode("latin-1")
    names = _HEADER_NAMES
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = names.get(raw_name)
        if name is None:
            name = raw_name.decode("latin-1").lower()
            if len(names) >= _MAX_HEADER_NAMES:
                names.clear()
            names[raw_name] = name
        if name in headers:  # repeated: the values joined, as one header would carry them
            headers[name] = f"{headers[name]}, {raw_value.decode('latin-1')}"
        else:
            headers[name] = raw_value.decode("latin-1")
    client = scope.get("client")
    return HTTPRequest(  # positional: keywords cost twice the time here, on every request
        scope.get("method", "GET"),
        _routing_path(scope, router),
        parse_query(raw_query),
        headers,
        body,
        (str(client[0]), int(client[1])) if client else None,
        scope.get("scheme", "http"),
        raw_query,
        None,
        scope,
    )


def _is_websocket_upgrade(request: HTTPRequest) -> bool:
    """Whether an ``http`` scope is a WebSocket handshake the ASGI server did not take.

    A server with a WebSocket library turns such a request into a ``websocket`` scope;
    one without (uvicorn with ``ws="none"``, or plain ``pip install uvicorn``) warns in
    its own log and hands it to the app as HTTP, upgrade headers and all.
    """
    upgrade = request.headers.get("upgrade")
    return upgrade is not None and "websocket" in upgrade.lower()


# The ASGI form of answer headers, by their (name, value) pairs: the polling answers
# repeat a handful. Bounded, since some vary (a session cookie, a CORS origin).
_ASGI_HEADERS: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
_MAX_ASGI_HEADERS = 256


async def _send_response(send: Send, response: HTTPResponse) -> None:
    key = tuple(response.headers)
    encoded = _ASGI_HEADERS.get(key)
    if encoded is None:
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in key]
        if len(_ASGI_HEADERS) >= _MAX_ASGI_HEADERS:
            _ASGI_HEADERS.clear()
        _ASGI_HEADERS[key] = encoded
    # A new list each time: the ASGI server may keep or change what it is given.
    headers = [*encoded, (b"content-length", b"%d" % len(response.body))]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})  # more_body: False


def _head_problem(scope: Scope, limits: Limits) -> int | None:
    """414 or 431 for a request head over the limits, as the standalone server answers.

    The ASGI server has read the head already; this keeps the answers of both front
    doors the same for requests to the engine (docs/limits.md).
    """
    query: bytes = scope.get("query_string", b"")
    target = len(scope.get("raw_path") or scope["path"]) + len(query)
    if target > limits.max_line:
        return 414
    headers = scope.get("headers", ())
    if len(headers) > limits.max_headers:
        return 431
    total = target
    for name, value in headers:
        size = len(name) + len(value)
        if size > limits.max_line:
            return 431
        total += size
    return 431 if total > limits.max_head else None


def _refusal(status: int) -> HTTPResponse:
    body = HTTPStatus(status).phrase.encode()
    return HTTPResponse(status, body, [("Content-Type", "text/plain"), ("Connection", "close")])


def _request_timeout() -> HTTPResponse:
    # Connection: close, or the ASGI server would wait on for the rest of the body.
    headers = [("Content-Type", "text/plain"), ("Connection", "close")]
    return HTTPResponse(408, b"Request Timeout", headers)


def _hold_flush(engine: EngineServer, request: HTTPRequest) -> ServerSession | None:
    """The polling session a POST is for, its flush held while the engine reads the POST;
    None if there is none to hold."""
    session = engine.sessions.get(request.query.get("sid", ""))
    if session is None or session.ws is not None or not session.hold_flush():
        return None
    return session


def _flush_held(engine: EngineServer, session: ServerSession) -> None:
    """End the hold and flush what ``session`` queued meanwhile, as the engine's would."""
    session.release_flush(schedule=False)
    if session.outbox and session.state is not State.CLOSED:
        engine.flush(session)


@coroutine
def _receiving(receive: Receive, box: list[Message]) -> Generator[Any, Any, None]:
    """The WebSocket pump's receives: each turn runs one ``receive()`` and puts its
    message in ``box``, then parks (:data:`~aiosio._handlers.PARKED`); what it yields
    before that is what the receive waits on."""
    coro: Any  # a coroutine, as a rule; any awaitable will do
    while True:
        coro = receive()
        if type(coro) is not CoroutineType:
            coro = coro.__await__()
        box.append((yield from coro))
        yield PARKED


class _ClientGone(Exception):
    """The client disconnected while its request was being read."""


class ASGIApp:
    """An ASGI 3 application serving one router's engine (and its other routes).

    Args:
        router: What to serve: the Engine.IO endpoint, the client bundle, static files and
            ``router.other_app``.
    """

    def __init__(
        self,
        router: Router,
        *,
        on_startup: Callable[[], Awaitable[object]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.router = router
        self.engine = router.engine
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._warned_no_websocket = False
        self._started: asyncio.Future[None] | None = None

    def _warn_no_websocket(self, request: HTTPRequest) -> None:
        """Say once, in aiosio's own log, that the ASGI server cannot do WebSocket.

        Only the engine path counts: a WebSocket request for ``other_app`` that comes as
        HTTP is that app's business.
        """
        if not self.router.is_engine_path(request.path):
            return
        self._warned_no_websocket = True
        logger.warning(
            "the ASGI server passed a WebSocket upgrade request on as plain HTTP: it has no "
            "WebSocket support, so Socket.IO clients stay on HTTP long-polling and "
            "WebSocket-only clients cannot connect. Under uvicorn: pip install "
            "'aiosio[uvicorn]' (uvicorn[standard]) or install websockets"
        )

    async def _startup(self) -> None:
        """Run ``on_startup`` once, whether the lifespan or a first request asks first.

        Starlette and FastAPI send no lifespan events to a mounted app, so without this
        a mounted server's adapters (a Redis adapter's subscription) would never start.
        """
        if self._started is None:
            if self._on_startup is None:
                # Nothing to start: settle now, without yielding to the loop, so a first
                # request is answered in the step it came in (uvicorn drops an answer
                # that comes after the client half-closed).
                self._started = asyncio.get_running_loop().create_future()
                self._started.set_result(None)
                return
            self._started = asyncio.ensure_future(self._run_startup())
        await asyncio.shield(self._started)

    async def _run_startup(self) -> None:
        if self._on_startup is not None:
            await self._on_startup()

    async def _shutdown(self) -> None:
        """The server's own close (adapters included) when given, else the engine's."""
        if self._on_shutdown is not None:
            await self._on_shutdown()
        else:
            await self.engine.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match scope["type"]:
            case "http":
                if self._started is None or not self._started.done():
                    await self._startup()  # no lifespan came (mounted): start now
                await self._http(scope, receive, send)
            case "websocket":
                if self._started is None or not self._started.done():
                    await self._startup()
                await self._websocket(scope, receive, send)
            case "lifespan":
                await self._lifespan(scope, receive, send)
            case kind:
                raise ValueError(f"unsupported ASGI scope type {kind!r}")

    # -- HTTP -------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.router
        request = _request(scope, self.router)
        if not self._warned_no_websocket and _is_websocket_upgrade(request):
            self._warn_no_websocket(request)
        if not router.is_engine_path(request.path):
            local = router.local_response(request)
            if local is not None:
                await _send_response(send, local)
            elif router.other_app is not None:
                await router.other_app(scope, receive, send)
            else:
                await _send_response(send, not_found())
            return
        status = _head_problem(scope, router.limits)
        if status is not None:
            await _send_response(send, _refusal(status))
            return
        if request.method == "POST":
            refusal = router.begin_post(request)  # a second POST while one is being read
            if refusal is not None:
                await _send_response(send, refusal)
                return
        try:
            body = await self._read_body(request, receive)
        except _ClientGone:
            router.abandon(request)  # a partial body is never handed to the engine
            return
        except TimeoutError:
            router.abandon(request)
            await _send_response(send, _request_timeout())
            return
        if body is None:
            await _send_response(send, router.too_large(request))
            return
        request.body = body
        response = await self._answer(request, receive)
        if response is not None:
            await _send_response(send, response)

    async def _read_body(self, request: HTTPRequest, receive: Receive) -> bytes | None:
        """The request body, or None as soon as it is known to be over the limit.

        Raises:
            _ClientGone: If the client disconnected before the end of the body.
            TimeoutError: If the next chunk did not come within ``limits.body_timeout``.
        """
        limit = self.engine.max_http_buffer_size
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return None  # refused from the header alone: the body is never read
        chunks: list[bytes] = []
        size = 0
        while True:
            # The ASGI server has usually read the chunk already (a poll's whole request
            # comes in one read): its receive() then returns without suspending, and the
            # deadline, a timer armed and cancelled, is only paid for a chunk not yet there.
            message = run_eagerly(receive())
            if type(message) is Suspended:
                async with asyncio.timeout(self.router.limits.body_timeout):
                    message = await message
            if message["type"] != "http.request":
                raise _ClientGone
            chunk: bytes = message.get("body", b"")
            if not message.get("more_body", False) and not chunks:
                return chunk if len(chunk) <= limit else None  # one chunk: no join, no copy
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(self, request: HTTPRequest, receive: Receive) -> HTTPResponse | None:
        """The engine's answer; None if the client went away while it was deferred."""
        answer: asyncio.Future[HTTPResponse] | None = None
        at_once: list[HTTPResponse] = []

        def respond(response: HTTPResponse) -> None:
            if answer is None:
                at_once.append(response)  # answered within handle_http: no future needed
            elif not answer.done():
                answer.set_result(response)

        # A POST's replies (its acks) leave when the engine has read it, not with the
        # engine's flush at the end of the loop iteration: a held GET is answered in this
        # step, a callback and an iteration of the loop sooner.
        held = _hold_flush(self.engine, request) if request.method == "POST" else None
        try:
            abort = self.engine.handle_request(request, respond)  # an engine path: _http saw
        finally:
            if held is not None:
                _flush_held(self.engine, held)
        if at_once:
            return at_once[0]
        future: asyncio.Future[HTTPResponse] = asyncio.get_running_loop().create_future()
        answer = future
        # Deferred (a held long-poll, or an async allow_request): watch for the client
        # going away meanwhile, since the session must close at once if it does. The
        # watch ends the wait by cancelling the answer (no asyncio.wait and its futures).
        watch = DisconnectWatch(receive, future)
        try:
            return await future
        except asyncio.CancelledError:
            if not watch.gone:
                raise  # this task is cancelled (the server shuts down), not the answer
            return None  # the client went away first
        finally:
            if (not future.done() or future.cancelled()) and abort is not None:
                abort()
            watch.stop()

    # -- WebSocket --------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.router
        request = _request(scope, self.router)
        if not router.is_engine_path(request.path):
            if router.other_app is not None:
                await router.other_app(scope, receive, send)
            else:
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION})
            return
        if (await receive())["type"] != "websocket.connect":
            return
        status = _head_problem(scope, router.limits)
        refusal = (
            HTTPError(status, _refusal(status).body, "text/plain")
            if status is not None
            else self.engine.check(request, websocket=True) or await self._authorize(request)
        )
        if refusal is not None:
            await _refuse_websocket(scope, send, refusal)
            return
        accept: Message = {"type": "websocket.accept"}
        headers = self.engine.websocket_headers(request)
        if headers:
            accept["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
        await send(accept)
        ws = ASGIWebSocket(send)
        writer = asyncio.create_task(ws.run())
        try:
            session = self.engine.open_websocket(request, ws)
            if session is not None:
                ws.drained = partial(drained, session)
            await self._pump(session, ws, receive)
        finally:
            # The pump ends when the WebSocket is gone (after our close frame, if any):
            # nothing more can be sent.
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _authorize(self, request: HTTPRequest) -> HTTPError | None:
        verdict: asyncio.Future[HTTPError | None] = asyncio.get_running_loop().create_future()
        self.engine.authorize(request, verdict.set_result)
        return await verdict

    async def _pump(
        self, session: ServerSession | None, ws: ASGIWebSocket, receive: Receive
    ) -> None:
        """Feed received messages to the engine until the WebSocket is gone.

        While it reads, the pump holds the session's flush (``owned``, from before the first
        message goes in), so the replies it queues schedule no flush of the engine's (a
        callback per message); the pump sends them itself before it waits, and hands what
        it could not send back to the engine.
        """
        engine = self.engine
        limit = engine.max_http_buffer_size
        owned: ServerSession | None = None
        box: list[Message] = []
        receiving = _receiving(receive, box)
        try:
            while True:
                if ws.held:  # over a rate limit: read nothing for a while (server/admission.py)
                    if owned is not None:
                        owned.release_flush()
                        owned = None
                    held, ws.held = ws.held, 0.0
                    await asyncio.sleep(held)
                step = receiving.send(None)
                if step is not PARKED:  # the receive waits: nothing more to read for now
                    if owned is not None:
                        owned.release_flush(schedule=False)  # sent just below
                        owned = None
                    # Nothing more to read for now: the replies to what was read go out
                    # from here, one flush, before the wait (no wake-up of the writer task).
                    if session is not None and session.outbox and session.ws is ws:
                        await ws.send_now(engine.flush, session)
                        if session.outbox:  # the writer was sending
                            session.schedule_flush()
                    await until_parked(receiving, step)
                message = box.pop()
                if message["type"] != "websocket.receive":
                    break  # websocket.disconnect
                if session is None:
                    continue  # refused (a second WebSocket for a sid): waiting for the close
                text: str | None = message.get("text")
                data: str | bytes
                if text is None:
                    data = message.get("bytes") or b""
                    size = len(data)
                else:
                    data = text
                    # A character is at most 4 UTF-8 bytes: count them only when it may matter.
                    size = len(text) if len(text) * 4 <= limit else len(text.encode())
                if size > limit:
                    ws.close(CloseCode.MESSAGE_TOO_BIG)
                    engine.websocket_error(session, ws, CloseReason.TRANSPORT_ERROR)
                    session = None
                    continue
                if owned is None and session.ws is ws and session.hold_flush():
                    owned = session
                engine.websocket_message(session, ws, data)
            if session is not None:
                ws.closing = True  # nothing can be sent any more
                engine.websocket_closed(session, ws)
        finally:
            receiving.close()  # a receive under way, if any, is never to be finished
            if owned is not None:
                owned.release_flush()

    # -- lifespan ---------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        other = self.router.other_app
        if other is not None:

            async def receive_and_close() -> Message:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self._startup()
                elif message["type"] == "lifespan.shutdown":
                    await self._shutdown()
                return message

            await other(scope, receive_and_close, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _refuse_websocket(scope: Scope, send: Send, refusal: HTTPError) -> None:
    """Refuse a WebSocket handshake: with an HTTP answer if the server can send one."""
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [
            (b"content-type", refusal.content_type.encode("latin-1")),
            (b"content-length", str(len(refusal.body)).encode()),
            *((name.lower().encode("latin-1"), value.encode()) for name, value in refusal.headers),
        ]
        await send(
            {
                "type": "websocket.http.response.start",
                "status": refusal.status,
                "headers": headers,
            }
        )
        await send(
            {"type": "websocket.http.response.body", "body": refusal.body, "more_body": False}
        )
    else:
        await send({"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION})
