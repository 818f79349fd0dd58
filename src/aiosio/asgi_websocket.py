"""An accepted ASGI WebSocket as the engine sees it: what the engine queues, sent in order.

ASGI forces one ``websocket.send`` message, and one awaited ``send``, per Engine.IO
packet; what is ours is everything around those calls. Two coroutines send, never at
once (``_busy`` says one is):

* the receiving coroutine of :class:`~aiosio.asgi.ASGIApp` sends the replies to what it
  just received (:meth:`ASGIWebSocket.send_now`) before it reads on, so an echo costs no
  wake-up of another task;
* what the engine queues at any other time (a broadcast, an emit from a task, a
  heartbeat) is sent by the caller of :meth:`ASGIWebSocket.send_items` itself while the
  writer task is parked: each ``send`` is run until it first suspends (uvicorn's and
  most servers' complete at once while the client reads), so a broadcast to a thousand
  sockets wakes no task. A ``send`` that does suspend (the client stopped reading) is
  handed to the writer task (:meth:`ASGIWebSocket.run`), which finishes it and sends
  what is queued meanwhile; the writer also sends the close.

Whichever sends takes everything queued, so the order is the order of
:meth:`ASGIWebSocket.send_items` calls.

The eager sends run in one generator per WebSocket (:meth:`ASGIWebSocket._eager_sends`),
resumed with each flush and parked on a ``yield`` when the queue is empty: a ``send``
run to its end inside it (``yield from``) raises no ``StopIteration`` into Python code,
as a coroutine driven by ``coro.send()`` would once per delivery. A send that suspends
leaves the generator inside it; the writer finishes it (:func:`~aiosio._handlers.until_parked`).
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from types import CoroutineType
from typing import Any, TypeVar

from aiosio._handlers import PARKED, until_parked
from aiosio.engineio.wire import Wire

__all__ = ["ASGIWebSocket"]

logger = logging.getLogger("aiosio.asgi")

_S = TypeVar("_S")

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ASGIWebSocket:
    """An accepted ASGI WebSocket as the engine sees it (a ``WebSocketTransport``).

    The engine calls :meth:`send_items` and :meth:`close` synchronously; they queue.

    Args:
        send: The ASGI ``send`` of the WebSocket's connection.
    """

    __slots__ = (
        "_busy",
        "_eager",
        "_queued",
        "_rest",
        "_send",
        "_size",
        "_waiter",
        "close_code",
        "closing",
        "drained",
        "held",
    )

    def __init__(self, send: Send) -> None:
        self._send = send
        self._queued: deque[str | bytes] = deque()
        self._size = 0
        # What the parked writer waits on: a bare future, set at most once per wake-up.
        self._waiter: asyncio.Future[None] | None = None
        self._busy = False  # a coroutine is sending the queue: it takes what comes meanwhile
        # The eager sender (made at the first eager send), and, when one of its sends has
        # suspended, what that send waits on: the writer (or send_now) finishes it.
        self._eager: Generator[Any, Any, None] | None = None
        self._rest: Any = None
        self.closing = False
        self.close_code = 1000
        self.drained: Callable[[], None] | None = None  # the queue was sent: backpressure
        self.held = 0.0  # seconds to read nothing for, from the next receive

    def hold(self, seconds: float) -> None:
        """Read nothing more from the peer for ``seconds`` (it is over a rate limit)."""
        self.held = max(self.held, seconds)

    def send_items(self, items: list[object]) -> None:
        """Queue engine packets (str, bytes or Wire); each becomes one message.

        While the writer is parked they are sent from here, each ``send`` run until it
        first suspends; one that suspends is left to the writer task (woken), with what
        is still queued. Nothing raised here reaches the caller (the engine's flush of
        every session): a failed send ends this WebSocket only.
        """
        if self.closing or not items:
            return
        item: object = None  # a flush of one packet (a broadcast's delivery): never queued
        if self._waiter is None or self._busy or len(items) > 1:
            for queued in items:
                data: str | bytes = queued.data if type(queued) is Wire else queued  # type: ignore[assignment]
                self._size += len(data)
                self._queued.append(data)
            if self._waiter is None or self._busy:
                return  # a coroutine that is sending or about to (the writer) takes them
        else:
            item = items[0]
        self._busy = True
        try:
            sender = self._eager
            if sender is None:
                sender = self._eager = self._eager_sends()
                sender.send(None)  # to its first yield
            pending = sender.send(item)
            if pending is not PARKED:
                self._rest = pending
            # No drained() when all went: the engine pauses a session only when a flush
            # leaves a queue behind, and whoever sends that queue (the writer, send_now)
            # calls it once the queue is empty, before the writer parks again.
        except Exception as exc:  # the connection broke under a send (uvicorn: an OSError)
            logger.debug("WebSocket send failed: %r", exc)
            self.closing = True
            self._eager = None  # the generator has ended with the exception
        finally:
            self._busy = False
        if self._rest is not None or self.closing:
            self._wake()

    def close(self, code: int = 1000) -> None:
        """Close once everything queued so far has been sent."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self._wake()

    def buffered(self) -> int:
        """Bytes queued and not yet handed to the ASGI server (characters for text)."""
        return self._size

    def _wake(self) -> None:
        """Wake the parked writer, unless a coroutine that will see the queue is sending."""
        waiter = self._waiter
        if waiter is not None and not self._busy:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    @types.coroutine
    def _eager_sends(self) -> Generator[Any, Any, None]:
        """The eager sends (see the module docstring): resumed with a packet to send first,
        or None, it sends that and the queue, then parks on ``yield PARKED``."""
        queued = self._queued
        send = self._send
        coro: Any  # a coroutine, as a rule; any awaitable will do
        item = yield
        while True:
            if queued and item is not None:  # queued before it (not while the writer is parked)
                data = item.data if type(item) is Wire else item
                self._size += len(data)
                queued.append(data)
                item = None
            while True:
                if item is not None:
                    data = item.data if type(item) is Wire else item
                    item = None
                elif queued:  # queued while a send was suspended
                    data = queued.popleft()
                    self._size -= len(data)
                else:
                    break
                if type(data) is str:
                    coro = send({"type": "websocket.send", "text": data})
                else:
                    coro = send({"type": "websocket.send", "bytes": data})
                if type(coro) is not CoroutineType:
                    coro = coro.__await__()
                yield from coro
            item = yield PARKED

    async def _send_queued(self) -> None:
        """Send everything queued, what is queued meanwhile too (``_busy`` is held)."""
        rest = self._rest
        if rest is not None:
            self._rest = None
            assert self._eager is not None
            try:
                await until_parked(self._eager, rest)  # a send begun eagerly comes first
            except BaseException:
                self._eager = None  # ended by the exception
                raise
        queued = self._queued
        send = self._send
        while queued:
            data = queued.popleft()
            self._size -= len(data)
            if type(data) is str:
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})
        if self.drained is not None:
            self.drained()

    async def send_now(self, flush: Callable[[_S], None], session: _S) -> None:
        """Call ``flush(session)``, and send what it queues from the calling coroutine.

        The receiving coroutine calls this after a message with replies: they go out
        without waking the writer task. Nothing happens while the writer is sending (the
        replies leave with the loop iteration's flush, and the writer takes them).
        """
        if self._busy or self.closing:
            return
        self._busy = True
        try:
            flush(session)  # its send_items wakes no one: this coroutine is the sender
            await self._send_queued()
        except OSError as exc:  # the connection broke under a send (uvicorn raises these)
            logger.debug("WebSocket send failed: %r", exc)
            self.closing = True
        finally:
            self._busy = False
        if self.closing or self._queued:
            self._wake()  # the close is the writer's to send

    async def run(self) -> None:
        """Send what is queued, in order, until closed (the writer task)."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._busy or not (self._queued or self.closing or self._rest):
                    waiter = self._waiter = loop.create_future()
                    await waiter
                    continue
                self._busy = True
                try:
                    await self._send_queued()
                finally:
                    self._busy = False
                if self.closing:
                    await self._send({"type": "websocket.close", "code": self.close_code})
                    return
        except OSError as exc:  # the connection broke under a send (uvicorn raises these)
            logger.debug("WebSocket send failed: %r", exc)
            self.closing = True
