"""BroadcastOperator: an immutable choice of recipients and flags, then one operation.

``io.to("a").except_("b").timeout(5)`` builds new operators; ``emit`` encodes the packet
once and the adapter writes the same bytes to every recipient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from aiosio.adapters.base import (
    BroadcastFlags,
    BroadcastOptions,
    FlagChoice,
    RoomChoice,
    room_names,
)
from aiosio.exceptions import AckTimeout, InvalidState, ReservedEventError
from aiosio.socketio.packets import EVENT, RESERVED_EVENTS, Packet
from aiosio.typed.validation import convert, convert_answers, convert_per_socket

if TYPE_CHECKING:
    from aiosio.presence.table import Member
    from aiosio.server.namespace import Namespace
    from aiosio.server.presence import Presence
    from aiosio.server.socket import Socket

__all__ = ["BroadcastOperator", "RemoteSocket", "SocketEmitter"]


class BroadcastOperator(RoomChoice["BroadcastOperator"]):
    """Who a broadcast reaches and how; every method returns a new operator.

    Operators come from ``io.to(...)``, ``nsp.except_(...)``, ``socket.broadcast`` and the
    like rather than from this constructor.

    Args:
        nsp: The namespace broadcast in.
        rooms: The rooms whose sockets are reached; empty reaches every socket.
        except_: The rooms (socket ids included) whose sockets are left out.
        flags: ``volatile``, ``compress``, ``local`` and the ack ``timeout``; None takes
            the defaults.
    """

    __slots__ = ("_nsp", "_options")

    def __init__(
        self,
        nsp: Namespace,
        *,
        rooms: frozenset[str] = frozenset(),
        except_: frozenset[str] = frozenset(),
        flags: BroadcastFlags | None = None,
    ) -> None:
        self._nsp = nsp
        self._options = BroadcastOptions(rooms, except_, flags or BroadcastFlags())

    def _derive(self, **changes: Any) -> BroadcastOperator:
        options = replace(self._options, **changes)
        return BroadcastOperator(
            self._nsp, rooms=options.rooms, except_=options.except_, flags=options.flags
        )

    # -- choosing (to, in_, except_, volatile and compress: RoomChoice) ------------------

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Acknowledgements must come within ``seconds``.

        Args:
            seconds: The deadline of :meth:`emit_with_ack` (and of an emit's callback).

        Returns:
            A new operator.
        """
        return self._flag(timeout=seconds)

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets (in a cluster)."""
        return self._flag(local=True)

    @property
    def options(self) -> BroadcastOptions:
        """The rooms, exclusions and flags this operator broadcasts with."""
        return self._options

    # -- emitting -----------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Send an event to every chosen socket, encoded once.

        With ``callback``, every recipient is asked for an acknowledgement and the callback
        gets ``(error, answers)`` once all answered or the timeout passed.

        Args:
            event: The event name.
            *args: The arguments; bytes travel as binary attachments.
            callback: Called with ``(error, answers)``: error an :class:`AckTimeout` or None.

        Raises:
            ReservedEventError: ``event`` is a reserved name (``connect``, ``disconnect``...).
        """
        if event in RESERVED_EVENTS:
            raise ReservedEventError(f"{event!r} is a reserved event name")
        if callback is None:
            if self._nsp.check_emit is not None:  # declared events, checked (check_emits)
                self._nsp.check_emit(event, args)
            packet = Packet(EVENT, self._nsp.name, [event, *args])
            self._nsp.adapter.broadcast(packet, self._options)
            return
        collector = self._ask(event, args)
        collector.future.add_done_callback(
            lambda future: callback(future.exception(), collector.answers())
        )

    def _ask(self, event: str, args: tuple[Any, ...]) -> _AckCollector:
        """Send the event to every chosen socket, each with an ack id; gather the answers."""
        if self._nsp.check_emit is not None:
            self._nsp.check_emit(event, args)
        collector = _AckCollector(self._options.flags.timeout)
        packet = Packet(EVENT, self._nsp.name, [event, *args])
        self._nsp.adapter.broadcast_with_ack(packet, self._options, collector)
        return collector

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event to the recipients.

        Args:
            *args: The arguments of the event.
        """
        self.emit("message", *args)

    async def emit_with_ack(
        self, event: str, *args: Any, per_socket: bool = False, response: Any = None
    ) -> Any:
        """Emit and gather every recipient's acknowledgement.

        Args:
            event: The event name.
            *args: The arguments of the event.
            per_socket: Return a dict from socket id to answer instead of a list.
            response: A type (a model, a dataclass, ``list[int]``...) each answer is
                checked and converted to (typed events).

        Returns:
            A list of answers (each the first argument a client acknowledged with), or with
            ``per_socket`` a dict from socket id to its full answer (a list), with an
            :class:`AckTimeout` for each socket that did not answer in time. With
            ``response``, the answers converted; per socket, each answer is shaped as
            :meth:`Socket.emit_with_ack` returns it (the argument for one), and one that
            does not fit is an :class:`~aiosio.typed.InvalidPayload` instead.

        Raises:
            AckTimeout: Some recipients did not answer in time (not with ``per_socket``).
            InvalidPayload: An answer does not fit ``response`` (not with ``per_socket``).
            ReservedEventError: ``event`` is a reserved name.
        """
        if event in RESERVED_EVENTS:
            raise ReservedEventError(f"{event!r} is a reserved event name")
        collector = self._ask(event, args)
        try:
            await collector.future
        except AckTimeout:
            if not per_socket:
                raise
        if response is not None:
            if per_socket:
                return convert_per_socket(response, collector.per_socket())
            return convert_answers(response, collector.answers())
        if per_socket:
            return collector.per_socket()
        return collector.answers()

    # -- socket utilities -------------------------------------------------------------

    async def fetch_sockets(self) -> list[Socket | RemoteSocket]:
        """The chosen sockets, across the cluster.

        Returns:
            Local :class:`Socket` objects, and a ``RemoteSocket`` for each one elsewhere.
        """
        found = await self._nsp.adapter.fetch_sockets(self._options)
        return cast("list[Socket | RemoteSocket]", found)  # the namespace makes both kinds

    # -- presence (server/presence.py) ----------------------------------------------------

    def _presence_room(self) -> tuple[Presence, str]:
        presence = self._nsp.presence
        if presence is None:
            raise InvalidState("presence is off: create the server with presence=True")
        if len(self._options.rooms) != 1 or self._options.except_:
            raise ValueError("presence is read for one room: io.in_(room).presence()")
        (room,) = self._options.rooms
        return presence, room

    async def presence(self) -> list[Member]:
        """The users in the chosen room, from every server when presence has a store.

        Returns:
            One member per user, each with its sockets' count and its ``presence_info``.

        Raises:
            InvalidState: Presence is off.
            ValueError: Not exactly one room was chosen.
        """
        presence, room = self._presence_room()
        return await presence.members(room)

    async def count_users(self) -> int:
        """How many users are in the chosen room (one), without fetching sockets.

        Returns:
            The number of distinct users present.
        """
        presence, room = self._presence_room()
        return await presence.count_users(room)

    async def count(self) -> int:
        """How many sockets the chosen rooms hold.

        From presence (no socket fetched) for one room when it is on, else by counting what
        :meth:`fetch_sockets` finds.

        Returns:
            The number of sockets, on every server.
        """
        options = self._options
        if self._nsp.presence is not None and len(options.rooms) == 1 and not options.except_:
            presence, room = self._presence_room()
            return sum(member["sockets"] for member in await presence.members(room))
        return len(await self.fetch_sockets())

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets join rooms (on every server of a cluster).

        Args:
            rooms: A room or several.
        """
        self._nsp.adapter.add_sockets(self._options, sorted(room_names((rooms,))))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets leave rooms.

        Args:
            rooms: A room or several.
        """
        self._nsp.adapter.del_sockets(self._options, sorted(room_names((rooms,))))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the chosen sockets.

        Args:
            close: Close their whole connections too (every namespace of them).
        """
        self._nsp.adapter.disconnect_sockets(self._options, close)


class _AckCollector:
    """Counts recipients (possibly reported by several servers, for several namespaces:
    ``parts`` adapters each call :meth:`counted`) and their answers."""

    def __init__(self, timeout: float | None, parts: int = 1) -> None:
        loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = loop.create_future()
        self.expected = 0
        self.asked: list[str] = []
        self.received: dict[str, list[Any] | None] = {}
        self._counting = True
        self._uncounted = parts
        self._timer = None if timeout is None else loop.call_later(timeout, self._expire)

    def add_count(self, count: int, sids: Iterable[str] = ()) -> None:
        """A server reports how many recipients it asked (the local one also names them)."""
        self.expected += count
        self.asked.extend(sids)

    def add_answer(self, sid: str, answer: list[Any] | None) -> None:
        self.received[sid] = answer
        self._check()

    def counted(self) -> None:
        """Every server of the cluster has reported its count (the adapter says so)."""
        self._uncounted -= 1
        if self._uncounted > 0:
            return
        self._counting = False
        self._check()

    def _check(self) -> None:
        if not self._counting and len(self.received) >= self.expected and not self.future.done():
            if self._timer is not None:
                self._timer.cancel()
            self.future.set_result(None)

    def _expire(self) -> None:
        if not self.future.done():
            self.future.set_exception(AckTimeout("operation has timed out"))

    def answers(self) -> list[Any]:
        return [
            answer[0] if answer else None for answer in self.received.values() if answer is not None
        ]

    def per_socket(self) -> dict[str, Any]:
        """Each socket's full answer, or AckTimeout where none came (or it disconnected)."""
        results: dict[str, Any] = {sid: AckTimeout("no answer") for sid in self.asked}
        for sid, answer in self.received.items():
            results[sid] = AckTimeout("disconnected") if answer is None else answer
        return results


class SocketEmitter(FlagChoice["SocketEmitter"]):
    """An emit with flags: ``socket.timeout(5)``, ``socket.volatile``, ``socket.compress()``."""

    __slots__ = ("_compress", "_socket", "_timeout", "_volatile")

    def __init__(
        self, socket: Socket, *, timeout: float | None, volatile: bool, compress: bool
    ) -> None:
        self._socket = socket
        self._timeout = timeout
        self._volatile = volatile
        self._compress = compress

    def _flag(self, **changes: Any) -> SocketEmitter:
        options: dict[str, Any] = {
            "timeout": self._timeout,
            "volatile": self._volatile,
            "compress": self._compress,
        }
        options.update(changes)
        return SocketEmitter(self._socket, **options)

    def timeout(self, seconds: float) -> SocketEmitter:
        """Give the next ``emit_with_ack`` a deadline.

        Args:
            seconds: How long to wait for the acknowledgement.

        Returns:
            A new emitter with the deadline.
        """
        return self._flag(timeout=seconds)

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """Emit with these flags; with a timeout the callback gets ``(error, *args)``.

        Args:
            event: The event name.
            *args: The arguments of the event.
            callback: Called with the client's acknowledgement.
        """
        socket = self._socket
        socket._emit(event, args, callback, self._timeout, self._volatile, compress=self._compress)

    async def emit_with_ack(self, event: str, *args: Any, response: Any = None) -> Any:
        """Emit and wait for the acknowledgement.

        Args:
            event: The event name.
            *args: The arguments of the event.
            response: A type to check and convert the answer to (typed events).

        Returns:
            The answer: its argument, a tuple of several, or None; converted to
            ``response`` when given.

        Raises:
            AckTimeout: No answer within the timeout.
            Disconnected: The socket disconnected first.
            InvalidPayload: The answer does not fit ``response``.
        """
        answer = await self._socket._emit_with_ack(
            event, args, self._timeout, self._compress, self._volatile
        )
        return answer if response is None else convert(response, answer)


class RemoteSocket:
    """A socket on another server of the cluster, as ``fetch_sockets`` returns it."""

    def __init__(self, adapter: Any, details: dict[str, Any]) -> None:
        self._adapter = adapter
        self.id: str = details["id"]
        self.handshake: dict[str, Any] = details.get("handshake", {})
        self.rooms: set[str] = set(details.get("rooms", ()))
        self.data: Any = details.get("data")

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self._adapter.namespace, rooms=frozenset((self.id,)))

    def emit(self, event: str, *args: Any) -> None:
        """Send an event to this socket, wherever it is connected in the cluster.

        Args:
            event: The event name.
            *args: The arguments of the event.
        """
        self._operator().emit(event, *args)

    def join(self, rooms: str | Iterable[str]) -> None:
        """Make this socket join rooms, on the server that holds it.

        Args:
            rooms: A room or several.
        """
        self._operator().sockets_join(rooms)

    def leave(self, rooms: str | Iterable[str]) -> None:
        """Make this socket leave rooms, on the server that holds it.

        Args:
            rooms: A room or several.
        """
        self._operator().sockets_leave(rooms)

    def disconnect(self, close: bool = False) -> None:
        """Disconnect this socket, on the server that holds it.

        Args:
            close: Also close the underlying connection (every namespace of it).
        """
        self._operator().disconnect_sockets(close)
