"""EmitterOperator: who an emitter's operation reaches, for every emitter (Redis, Postgres).

An emitter publishes to the sockets of a cluster from a process that is not a server. The
operator chooses the rooms and flags and turns each operation into a cluster message; the
emitter it belongs to sends it in its backend's format (:class:`Sender`), through a
:class:`BatchPublisher` that sends in order from one task.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from aiosio._shortcuts import Shortcuts
from aiosio.adapters.base import BroadcastFlags, BroadcastOptions, RoomChoice, room_names
from aiosio.adapters.messages import MessageType, encode_options, encode_packet
from aiosio.socketio.packets import EVENT, RESERVED_EVENTS, Packet

__all__ = [
    "EMITTER_UID",
    "BatchPublisher",
    "EmitterBase",
    "EmitterOperator",
    "Sender",
]

EMITTER_UID = "emitter"  # the uid the Node emitters send, which servers never answer

logger = logging.getLogger("aiosio.emitter")

Item = TypeVar("Item")


class Sender(Protocol):
    """An emitter: its namespace, and how it sends one cluster message."""

    @property
    def namespace(self) -> str:
        """The namespace emitted to."""

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message.

        Args:
            type: The message type.
            data: Its payload.
        """


def _slashed(namespace: str) -> str:
    return namespace if namespace.startswith("/") else "/" + namespace


class BatchPublisher(Generic[Item]):
    """An emitter's ordered queue and the one task that sends it, in batches.

    :meth:`put` never awaits; the task starts with the first item. Subclasses set
    ``backend`` (for the log) and ``errors`` (what loses a batch: it is logged and
    dropped, and the task goes on), and implement :meth:`publish` and :meth:`disconnect`.
    """

    backend: ClassVar[str]
    errors: ClassVar[tuple[type[Exception], ...]]

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def put(self, item: Item) -> None:
        """Queue one item (joining :attr:`queue` waits until it was sent)."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        self.queue.put_nowait(item)

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self.publish(batch)
            except self.errors as exc:
                logger.warning("dropped %d messages to %s: %s", len(batch), self.backend, exc)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def close(self) -> None:
        """Stop the task (what is still queued is not sent), then disconnect."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.disconnect()

    async def publish(self, batch: list[Item]) -> None:
        """Send a batch, in order."""
        raise NotImplementedError

    async def disconnect(self) -> None:
        """Close the backend connection."""
        raise NotImplementedError


class EmitterOperator(RoomChoice["EmitterOperator"]):
    """Who an emitter operation reaches; every method returns a new operator.

    ``to``, ``in_``, ``except_``, ``volatile`` and ``compress`` come from
    :class:`RoomChoice`.

    Args:
        emitter: The emitter that publishes.
        options: The rooms, exclusions and flags chosen so far; None chooses every socket.
    """

    __slots__ = ("_options", "emitter")

    def __init__(self, emitter: Sender, options: BroadcastOptions | None = None) -> None:
        self.emitter = emitter
        self._options = options or BroadcastOptions()

    @property
    def options(self) -> BroadcastOptions:
        """The rooms, exclusions and flags this operator publishes with."""
        return self._options

    def _derive(self, **changes: Any) -> EmitterOperator:
        return EmitterOperator(self.emitter, replace(self._options, **changes))

    def emit(self, event: str, *args: Any) -> None:
        """Send an event to the chosen sockets of every server.

        Args:
            event: The event name.
            *args: Its arguments (no acknowledgement: an emitter hears nothing back).

        Raises:
            ValueError: For a reserved event name (``connect``, ``disconnect``, ...).
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        packet = Packet(EVENT, self.emitter.namespace, [event, *args])
        data = {"packet": encode_packet(packet), "opts": encode_options(self.options)}
        self.emitter.send(MessageType.BROADCAST, data)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets join rooms.

        Args:
            rooms: A room or several.
        """
        data = {"opts": encode_options(self.options), "rooms": sorted(room_names((rooms,)))}
        self.emitter.send(MessageType.SOCKETS_JOIN, data)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets leave rooms.

        Args:
            rooms: A room or several.
        """
        data = {"opts": encode_options(self.options), "rooms": sorted(room_names((rooms,)))}
        self.emitter.send(MessageType.SOCKETS_LEAVE, data)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the chosen sockets.

        Args:
            close: Also close their whole connections (every namespace of them).
        """
        data = {"opts": encode_options(self.options), "close": close}
        self.emitter.send(MessageType.DISCONNECT_SOCKETS, data)


class EmitterBase(Shortcuts[EmitterOperator]):
    """What every emitter shares: the broadcasting shortcuts, ``emit``,
    ``server_side_emit``, ``of``, ``flush``, ``close`` and ``async with`` (which flushes,
    then closes). Subclasses pass the namespace and their publisher (shared by the emitters
    ``of`` makes) and implement :meth:`send`."""

    def __init__(self, namespace: str, publisher: BatchPublisher[Any]) -> None:
        self.namespace = _slashed(namespace)
        self._publisher = publisher

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            await self.flush()
        await self.close()

    def of(self, namespace: str) -> Self:
        """The same emitter (and connection) for another namespace.

        Args:
            namespace: The namespace; the leading slash may be left out.

        Returns:
            An emitter of that namespace sharing this one's publisher.
        """
        other = copy.copy(self)
        other.namespace = _slashed(namespace)
        return other

    def _operator(self) -> EmitterOperator:
        return EmitterOperator(self, BroadcastOptions(flags=BroadcastFlags()))

    def emit(self, event: str, *args: Any) -> None:
        """Publish an event to every socket of the emitter's namespace.

        Args:
            event: The event name.
            *args: The arguments of the event.
        """
        self._operator().emit(event, *args)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Emit to the namespace handlers of every server (acknowledgements are not
        supported, as in the Node emitters).

        Args:
            event: The event name.
            *args: The arguments of the event.
        """
        self.send(MessageType.SERVER_SIDE_EMIT, {"packet": [event, *args]})

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message in this emitter's format."""
        raise NotImplementedError

    async def flush(self) -> None:
        """Wait until everything queued so far reached the backend (or was dropped)."""
        await self._publisher.queue.join()

    async def close(self) -> None:
        """Close the emitter's connection (shared with the emitters ``of`` made)."""
        await self._publisher.close()
