"""EmitterOperator: who an emitter's operation reaches, for every emitter (Redis, Postgres).

An emitter publishes to the sockets of a cluster from a process that is not a server. The
operator chooses the rooms and flags and turns each operation into a cluster message; the
emitter it belongs to sends it in its backend's format (:class:`Sender`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Protocol, Self

from aiosio._shortcuts import Shortcuts
from aiosio.adapters.base import BroadcastFlags, BroadcastOptions
from aiosio.adapters.messages import MessageType, encode_options, encode_packet
from aiosio.socketio.packets import EVENT, RESERVED_EVENTS, Packet

__all__ = ["EMITTER_UID", "EmitterBase", "EmitterOperator", "Sender", "room_names"]

EMITTER_UID = "emitter"  # the uid the Node emitters send, which servers never answer


class Sender(Protocol):
    """An emitter: its namespace, and how it sends one cluster message."""

    @property
    def namespace(self) -> str: ...

    def send(self, type: MessageType, data: dict[str, Any]) -> None: ...


def room_names(rooms: tuple[str | Iterable[str], ...]) -> frozenset[str]:
    """The room names of ``to("a", ["b", "c"])``-style arguments."""
    names: set[str] = set()
    for room in rooms:
        names.update([room] if isinstance(room, str) else room)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class EmitterOperator:
    """Who an emitter operation reaches; every method returns a new operator."""

    emitter: Sender
    options: BroadcastOptions = field(default_factory=BroadcastOptions)

    def to(self, *rooms: str | Iterable[str]) -> EmitterOperator:
        """Address rooms (added to those already chosen).

        Args:
            *rooms: Room names, or iterables of them.

        Returns:
            A new operator.
        """
        rooms_now = self.options.rooms | room_names(rooms)
        return replace(self, options=replace(self.options, rooms=rooms_now))

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> EmitterOperator:
        """Leave out the sockets of rooms.

        Args:
            *rooms: Room names, or iterables of them.

        Returns:
            A new operator.
        """
        excluded = self.options.except_ | room_names(rooms)
        return replace(self, options=replace(self.options, except_=excluded))

    @property
    def volatile(self) -> EmitterOperator:
        """Let the servers drop the event for a socket that cannot take it now."""
        flags = replace(self.options.flags, volatile=True)
        return replace(self, options=replace(self.options, flags=flags))

    def compress(self, compress: bool = True) -> EmitterOperator:
        """Set whether the servers may compress the event.

        Args:
            compress: False sends it uncompressed.

        Returns:
            A new operator.
        """
        flags = replace(self.options.flags, compress=compress)
        return replace(self, options=replace(self.options, flags=flags))

    def emit(self, event: str, *args: Any) -> None:
        """Send an event to the chosen sockets of every server.

        Raises:
            ValueError: For a reserved event name (``connect``, ``disconnect``, ...).
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        packet = Packet(EVENT, self.emitter.namespace, [event, *args])
        data = {"packet": encode_packet(packet), "opts": encode_options(self.options)}
        self.emitter.send(MessageType.BROADCAST, data)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets join rooms."""
        data = {"opts": encode_options(self.options), "rooms": sorted(room_names((rooms,)))}
        self.emitter.send(MessageType.SOCKETS_JOIN, data)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets leave rooms."""
        data = {"opts": encode_options(self.options), "rooms": sorted(room_names((rooms,)))}
        self.emitter.send(MessageType.SOCKETS_LEAVE, data)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the chosen sockets (with ``close``, their whole connections)."""
        data = {"opts": encode_options(self.options), "close": close}
        self.emitter.send(MessageType.DISCONNECT_SOCKETS, data)


class EmitterBase(Shortcuts[EmitterOperator]):
    """What every emitter shares: the broadcasting shortcuts, ``emit``,
    ``server_side_emit`` and ``async with`` (which flushes, then closes). Subclasses set
    ``namespace`` and implement :meth:`send`, :meth:`flush` and :meth:`close`."""

    namespace: str

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
        """Wait until everything queued so far reached the backend."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the emitter's connection."""
        raise NotImplementedError
