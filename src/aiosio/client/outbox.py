"""Outbox: what a client sends, and the acknowledgements it waits for.

As socket.io-client's Socket does it: an emit goes out at once when the client is
connected, is buffered while it is not (a volatile one is dropped unless the transport is
writable), and its ack callback may carry a timeout. With ``retries``, emits go through a
queue instead, one in flight at a time: each try is a new emit with a new ack id and the
``ack_timeout``; the queue moves on when the head is acknowledged or out of tries.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

from aiosio._acks import TimedAcks, settle_future
from aiosio._handlers import HandlerSpec, inspect_handler
from aiosio.client.events import Listeners
from aiosio.client.manager import BaseManager
from aiosio.exceptions import AckTimeout, Disconnected, LocalProtocolError, ReservedEventError
from aiosio.socketio.packets import RESERVED_EVENTS
from aiosio.socketio.session import PendingAck
from aiosio.typed.validation import convert

__all__ = ["Emitter", "Flags", "Outbox"]

logger = logging.getLogger("aiosio.client")


@dataclass(frozen=True, slots=True)
class Flags:
    """The flags of one emit: ``timeout(s)``, ``volatile``, and whether it comes from the
    retry queue."""

    timeout: float | None = None
    volatile: bool = False
    from_queue: bool = False


NO_FLAGS = Flags()


@dataclass(frozen=True, slots=True)
class _Buffered:
    data: list[Any]  # [event, *args], for the outgoing listeners
    items: list[str | bytes]  # as the parser encoded the packet
    id: int | None


@dataclass(slots=True)
class _Queued:
    event: str
    args: tuple[Any, ...]
    flags: Flags
    callback: Callable[..., Any] | None
    tries: int = 0
    pending: bool = False


class Sender(Protocol):
    """What the outbox needs of its client."""

    namespace: str
    retries: int
    ack_timeout: float | None

    @property
    def io(self) -> BaseManager: ...

    @property
    def connected(self) -> bool: ...


class Outbox:
    """The emits, send buffer, pending acks and retry queue of one client."""

    def __init__(self, client: Sender, listeners: Listeners) -> None:
        self._client = client
        self._listeners = listeners
        self.any_outgoing: list[HandlerSpec] = []
        self._acks = TimedAcks()  # ids counted per client, as socket.io-client does
        self._buffer: list[_Buffered] = []
        self._queue: collections.deque[_Queued] = collections.deque()

    def emit(
        self,
        event: str,
        args: tuple[Any, ...],
        flags: Flags,
        callback: Callable[..., Any] | None,
        error_first: bool = False,
    ) -> None:
        """Send, buffer, queue or drop one event (see the module docstring).

        Raises:
            ReservedEventError: For a reserved event name (a LocalProtocolError).
            LocalProtocolError: For an event name that is not a string, or arguments that
                cannot be serialised.
        """
        if not isinstance(event, str):
            raise LocalProtocolError(f"event names must be strings, not {type(event).__name__}")
        if event in RESERVED_EVENTS:
            raise ReservedEventError(f"{event!r} is a reserved event name")
        client = self._client
        if client.retries and not flags.from_queue and not flags.volatile:
            self._queue.append(_Queued(event, args, replace(flags, from_queue=True), callback))
            self.drain_queue()
            return
        data = [event, *args]
        ack_id = None if callback is None else self._acks.next_id
        items = client.io.parser.encode_event(client.namespace, data, ack_id)
        if callback is not None and ack_id is not None:
            self._acks.allocate()  # only once encoded: a refused emit uses no id
            timeout = client.ack_timeout if flags.timeout is None else flags.timeout
            self._register_ack(ack_id, callback, timeout, error_first)
        if flags.volatile and not client.io.writable:
            return
        if client.connected and not client.io.ping_expired():
            self.notify_outgoing(data)
            client.io.write(items)
        else:
            self._buffer.append(_Buffered(data, items, ack_id))

    def emit_with_ack(self, event: str, args: tuple[Any, ...], flags: Flags) -> asyncio.Future[Any]:
        """Emit; the future gets the answer (None, one value or a tuple) or the error."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.emit(event, args, flags, partial(settle_future, future), error_first=True)
        return future

    def _register_ack(
        self, ack_id: int, callback: Callable[..., Any], timeout: float | None, error_first: bool
    ) -> None:
        if timeout is None:
            self._acks.add(ack_id, callback, error_first)
        else:
            self._acks.add_timed(ack_id, callback, timeout, self._acks_expired)

    def _acks_expired(self, expired: list[tuple[int, PendingAck]]) -> None:
        if expired:
            gone = {ack_id for ack_id, _ in expired}
            self._buffer = [packet for packet in self._buffer if packet.id not in gone]
        for _, (callback, _, _) in expired:
            self.call_back(callback, AckTimeout("operation has timed out"))

    def on_ack(self, ack_id: int | None, args: list[Any]) -> None:
        """An ACK came; unknown or expired ids are ignored, as by the reference client."""
        acks = self._acks
        pending = acks.settle(ack_id)
        if pending is None:
            return
        if acks.timer is not None and not acks:
            acks.disarm()
        callback, error_first, _ = pending
        self.call_back(callback, *((None, *args) if error_first else args))

    def flush(self) -> None:
        """Connected: send what was buffered, and the head of the retry queue again."""
        buffered, self._buffer = self._buffer, []
        client = self._client
        for item in buffered:
            self.notify_outgoing(item.data)
            client.io.write(item.items)
        self.drain_queue(force=True)

    def clear_acks(self) -> None:
        """Disconnected: acks that cannot come any more fail (those of buffered packets
        stay); callbacks that are not error-first are dropped silently, as there."""
        released = self._acks.release_all(keep={packet.id for packet in self._buffer})
        if not self._acks:
            self._acks.disarm()
        for callback, error_first, _ in released:
            if error_first:
                self.call_back(callback, Disconnected("socket has been disconnected"))

    def drain_queue(self, *, force: bool = False) -> None:
        """Send the head of the retry queue unless it is in flight (or ``force``)."""
        if not self._client.connected or not self._queue:
            return
        entry = self._queue[0]
        if entry.pending and not force:
            return
        entry.pending = True
        entry.tries += 1
        on_ack = partial(self._on_queue_ack, entry)
        self.emit(entry.event, entry.args, entry.flags, on_ack, error_first=True)

    def _on_queue_ack(self, entry: _Queued, error: BaseException | None, *answer: Any) -> None:
        if not self._queue or self._queue[0] is not entry:
            return  # already acknowledged (a late answer to an earlier try)
        if error is None:
            self._queue.popleft()
            if entry.callback is not None:
                self.call_back(entry.callback, None, *answer)
        elif entry.tries > self._client.retries:
            self._queue.popleft()
            if entry.callback is not None:
                self.call_back(entry.callback, error)
        entry.pending = False
        self.drain_queue()

    def notify_outgoing(self, data: list[Any]) -> None:
        """Run the ``on_any_outgoing`` listeners."""
        for spec in list(self.any_outgoing):
            self._listeners.call(spec, data)

    def call_back(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call an ack callback; a coroutine it returns runs as a listener task."""
        try:
            result = callback(*args)
        except Exception:
            logger.exception("acknowledgement callback %r failed", callback)
            return
        if asyncio.iscoroutine(result):
            self._listeners.call(inspect_handler(_await), (result,))


async def _await(pending: Awaitable[Any]) -> None:
    await pending


class Emitter:
    """``client.timeout(5)`` and ``client.volatile``: emits with flags."""

    __slots__ = ("_flags", "_outbox")

    def __init__(self, outbox: Outbox, flags: Flags) -> None:
        self._outbox = outbox
        self._flags = flags

    def timeout(self, seconds: float) -> Emitter:
        """Acknowledgements must come within ``seconds``."""
        return Emitter(self._outbox, replace(self._flags, timeout=seconds))

    @property
    def volatile(self) -> Emitter:
        """Drop the event when it cannot be written at once."""
        return Emitter(self._outbox, replace(self._flags, volatile=True))

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit with these flags; with a timeout, ``callback(error, *answer)``."""
        self._outbox.emit(event, args, self._flags, callback)

    async def emit_with_ack(self, event: str, *args: Any, response: Any = None) -> Any:
        """Emit and wait for the acknowledgement (see ``Client.emit_with_ack``); with
        ``response`` (a type), the answer checked and converted to it."""
        answer = await self._outbox.emit_with_ack(event, args, self._flags)
        return answer if response is None else convert(response, answer)
