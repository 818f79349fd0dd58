"""The life of an HTTP/1.1 connection of the standalone front door, and its answers.

:class:`HTTPLifecycle` is what :class:`~aiosio.serve.http.HTTPConnection` is built on:
it answers requests in the order they came (keep-alive, pipelining), each with the
keep-alive it was read with, bounds what is queued by flow control, refuses and closes.
How requests are read (httptools callbacks, head and body limits, the WebSocket
handshake) is the subclass's: this half sees a request only once it is whole.

Its state is two enums and two flags, because they change independently:

* :class:`Phase`, where the input stands (between requests, in a head, in a body,
  upgrading, closing, closed). Once closing, nothing more is read or answered.
* :class:`Answer`, where the answer to the request being handled stands. With
  pipelining the next request is read (``Phase.HEAD``/``BODY``) while this one's answer
  is still owed (``Answer.DEFERRED``), so the two cannot be one enum.
* ``_write_paused`` is the transport's flow control (the peer does not read our
  answers): it comes and goes at any phase. ``_reading`` mirrors whether we asked the
  transport to pause reading, so that it is asked only on a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from aiosio.serve.codec import encode_response, reason
from aiosio.serve.conn import Timed
from aiosio.server.http import HTTPRequest, HTTPResponse, error_response

if TYPE_CHECKING:
    from aiosio.server.engine import EngineServer
    from aiosio.server.router import Router

__all__ = ["Answer", "HTTPLifecycle", "Handle", "Phase"]

# What answers a request: it is given the request and the callable to answer through,
# and returns what aborts the answer when it is deferred (None when it is not). The
# router's ``handle_http`` for an HTTPRequest; a connection serving an app starts the
# app's requests (their ASGI cycles) with its own.
Handle: TypeAlias = Callable[[Any, Callable[[HTTPResponse], None]], Callable[[], None] | None]

_MAX_QUEUED = 32  # pipelined requests held behind a busy one before reading pauses


class Phase(enum.Enum):
    """Where the input of a connection stands."""

    IDLE = "idle"  # between requests (or a request read whole, in the answer's hands)
    HEAD = "head"  # a request line and headers are coming
    BODY = "body"  # a head was read; its body is coming (none is a body of 0 bytes)
    UPGRADING = "upgrading"  # a WebSocket handshake was read; bytes are held meanwhile
    CLOSING = "closing"  # we end the connection: input is dropped, nothing is answered
    CLOSED = "closed"  # lost, or handed over to the WebSocket: this object is done


class Answer(enum.Enum):
    """Where the answer to the request being handled stands."""

    NONE = "none"  # no request is being answered
    DISPATCHING = "dispatching"  # the router is handling it, in this call stack
    GIVEN = "given"  # answered before the router returned: _dispatch goes on
    DEFERRED = "deferred"  # the router returned first (a held long-poll): owed


# The members as module constants: on Python 3.11 reading ``Phase.IDLE`` goes through the
# enum metaclass's __getattr__ (~2x a global); 43 such reads per polling round cost 9.6%.
_PHASE_IDLE, _PHASE_HEAD, _PHASE_BODY, _PHASE_UPGRADING, _PHASE_CLOSING, _PHASE_CLOSED = Phase
_ANSWER_NONE, _ANSWER_DISPATCHING, _ANSWER_GIVEN, _ANSWER_DEFERRED = Answer


class HTTPLifecycle(Timed):
    """One client connection's phases and answers; the requests come from a subclass."""

    __slots__ = (
        "__weakref__",
        "_abort",
        "_answer",
        "_ending",
        "_final",
        "_handle",
        "_keep_alive",
        "_phase",
        "_queue",
        "_reading",
        "_write_paused",
        "client",
        "engine",
        "limits",
        "router",
    )

    def __init__(self, router: Router) -> None:
        self.router = router
        self.engine: EngineServer = router.engine
        self.stats = router.engine.stats
        self.limits = router.limits
        self.transport: asyncio.Transport | None = None
        self._handle: Handle = router.handle_http  # the router's, bound once
        self.client: tuple[str, int] | None = None
        self._phase = _PHASE_IDLE
        self._answer = _ANSWER_NONE
        # Pipelined requests, each with what answers it and its keep-alive, read as it was
        # parsed (not when answered)
        self._queue: deque[tuple[Handle, HTTPRequest, bool]] = deque()
        self._keep_alive = True  # of the request being answered
        self._final = False  # a request that ends the connection was read: read no more
        self._ending = False  # the server is closing: the request being read is the last
        self._write_paused = False  # the peer does not read our answers (pause_writing)
        self._reading = True
        self._abort: Callable[[], None] | None = None
        self._deadline: asyncio.TimerHandle | None = None  # fires at or before _due
        self._due: float | None = None  # loop time of the deadline; None when disarmed
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- connection -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.router.connections.add(self)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client = (str(peer[0]), int(peer[1]))
            admission = self.engine.admission
            if admission is not None:  # connections_per_ip
                refusal = admission.connection(self.client[0], self.engine.loop.time())
                if refusal is not None:
                    self._refuse_with(error_response(refusal))
                    return
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        # Forget the transport first: whatever the engine does now (answer a poll) must
        # not write to it or arm timers on it.
        self.transport = None
        self.router.connections.discard(self)
        if self._phase is _PHASE_BODY:
            self._abandon()
        self._phase = _PHASE_CLOSED
        self._cancel_timer()
        self._queue.clear()
        abort, self._abort = self._abort, None
        if abort is not None:
            abort()

    def eof_received(self) -> bool | None:
        return False

    def _expired(self) -> None:
        transport = self.transport
        if transport is None:
            return
        phase = self._phase
        if phase is _PHASE_CLOSING:
            # What is left to send is not being read (a client that never reads our
            # answer): asyncio would keep the transport for ever.
            transport.abort()
        elif phase is _PHASE_BODY:
            self._refuse(408)
        else:  # the head deadline, or an idle kept-alive connection
            self._phase = _PHASE_CLOSING
            transport.close()
            self._arm(self.limits.close_timeout)

    def _abandon(self) -> None:
        """A request body never came whole (the connection went, or was refused): its
        polling session is closed (docs/limits.md)."""
        raise NotImplementedError

    def _refuse(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        """Answer and end the connection; unread input is discarded, not left to reset it.

        A body cut short by the refusal never comes whole: its session is abandoned.
        """
        if self._phase is _PHASE_BODY:
            self._abandon()
        headers = [("Content-Type", content_type)]
        self._refuse_with(HTTPResponse(status, body or reason(status).encode(), headers))

    def _refuse_with(self, response: HTTPResponse) -> None:
        phase = self._phase
        if phase is _PHASE_CLOSING or phase is _PHASE_CLOSED:
            return  # one final answer per connection
        self._phase = _PHASE_CLOSING
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._write(encode_response(response, keep_alive=False))
        self._shutdown()

    def close_if_idle(self) -> None:
        """The server is closing: close now between requests, else after the answer owed
        (a held long-poll is answered by the engine's close), with ``Connection: close``;
        a request still coming in is read and answered first, as the last one."""
        transport = self.transport
        phase = self._phase
        if transport is None or phase is _PHASE_CLOSING or phase is _PHASE_CLOSED:
            return
        if phase is _PHASE_IDLE and self._answer is _ANSWER_NONE and not self._queue:
            self._phase = _PHASE_CLOSING
            transport.close()
            self._arm(self.limits.close_timeout)
            return
        self._ending = True  # a request's head or body coming in is the last one
        if phase is _PHASE_IDLE:  # an answer is owed
            self._final = True  # read nothing more
            if self._queue:
                handle, request, _ = self._queue[-1]
                self._queue[-1] = (handle, request, False)
            else:
                self._keep_alive = False

    def _shutdown(self) -> None:
        if self._phase is not _PHASE_CLOSED:
            self._phase = _PHASE_CLOSING
        transport = self.transport
        if transport is None:
            return
        with contextlib.suppress(Exception):
            transport.write_eof()
        self._arm(self.limits.close_timeout)

    # -- HTTP answers -----------------------------------------------------------------

    def _dispatch(self, handle: Handle, request: HTTPRequest, keep_alive: bool) -> None:
        """Answer ``request`` and then the pipelined ones, until one is deferred.

        A loop, not recursion from :meth:`_respond`: an answer given at once must not
        overwrite the abort callable of a deferred one that it dispatched.
        """
        while True:
            self._answer = _ANSWER_DISPATCHING
            self._keep_alive = keep_alive
            abort = handle(request, self._respond)
            if self._answer is _ANSWER_DISPATCHING:  # a held long-poll or an ASGI app
                self._answer = _ANSWER_DEFERRED
                self._abort = abort
                return
            self._answer = _ANSWER_NONE
            phase = self._phase
            if self.transport is None or phase is _PHASE_CLOSING or phase is _PHASE_CLOSED:
                return
            if not self._queue or self._write_paused:
                # Idle, or the peer does not read our answers: answer no more until it
                # does, and drop it if it does not within the deadline.
                self._arm(self.limits.header_timeout)
                return
            handle, request, keep_alive = self._queue.popleft()
            self._flow()

    def _respond(self, response: HTTPResponse) -> None:
        answer = self._answer
        if answer is _ANSWER_DISPATCHING:
            self._answer = _ANSWER_GIVEN
        elif answer is _ANSWER_DEFERRED:
            self._answer = _ANSWER_NONE
            self._abort = None
        else:
            return  # answered already (the engine answers each request once)
        transport = self.transport
        phase = self._phase
        if transport is None or phase is _PHASE_CLOSING or phase is _PHASE_CLOSED:
            return  # the connection was refused or closed meanwhile: nothing more on it
        keep_alive = self._keep_alive
        self._write(encode_response(response, keep_alive=keep_alive))
        self._next(answer, keep_alive)

    def _next(self, answer: Answer, keep_alive: bool) -> None:
        """An answer went out: end the connection, or go on with the queue."""
        if not keep_alive:
            self._shutdown()
            return
        if answer is _ANSWER_DISPATCHING:
            return  # _dispatch goes on with the queue
        if self._queue and not self._write_paused:
            self._dispatch(*self._queue.popleft())
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
        phase = self._phase
        if (
            self._queue
            and self._answer is _ANSWER_NONE
            and phase is not _PHASE_CLOSING
            and phase is not _PHASE_CLOSED
        ):
            self._dispatch(*self._queue.popleft())
            self._flow()

    def _flow(self) -> None:
        """Read requests only while the peer reads our answers and few are queued.

        Otherwise a client pipelining requests it never reads the answers of would make
        us buffer answers (or requests) without bound.
        """
        transport = self.transport
        if transport is None:
            return
        read = not self._write_paused and len(self._queue) < _MAX_QUEUED
        if read != self._reading:
            self._reading = read
            if read:
                transport.resume_reading()
            else:
                transport.pause_reading()
