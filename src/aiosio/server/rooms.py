"""A socket's rooms: joining and leaving them, and broadcasting from the socket.

A mixin of :class:`~aiosio.server.socket.Socket`, kept apart from the emit and dispatch
code: the rooms live in the namespace's adapter, and the operators built here are
:class:`~aiosio.server.broadcast.BroadcastOperator` objects that leave the sender out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiosio.server.broadcast import BroadcastOperator
from aiosio.server.socket_part import SocketPart

if TYPE_CHECKING:
    from aiosio.presence.history import Replay

__all__ = ["SocketRooms"]


class SocketRooms(SocketPart):
    """Mixin of :class:`~aiosio.server.socket.Socket`: its rooms and broadcasts."""

    __slots__ = ()

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (a copy), its own id included."""
        return set(self.nsp.adapter.socket_rooms(self.id) or ())

    def join(self, rooms: str | Iterable[str], *, rewind: int | None = None) -> Replay | None:
        """Join one room or several.

        With ``rewind``, ``rooms`` is one room with a history (``nsp.history(room)``): its
        last ``rewind`` events are written to this socket and it joins, in one step, so the live
        events follow with no gap and no duplicate.

        Args:
            rooms: A room name, or an iterable of room names (a string is one room, never its
                characters).
            rewind: How many of the room's past events to replay before joining; None joins
                with no replay.

        Returns:
            None without ``rewind``; with it, the :class:`Replay` that says what was sent and
            whether older events had been trimmed.

        Raises:
            ValueError: ``rewind`` is not a positive integer within the limit, ``rooms`` is
                not one room name, or the room has no history.
            InvalidState: ``rewind`` is used before the socket is connected.
        """
        if rewind is None:
            self.nsp.adapter.add_all(self.id, [rooms] if isinstance(rooms, str) else rooms)
            return None
        return self.nsp.rewind(self, rooms, rewind)  # type: ignore[arg-type]

    def leave(self, room: str) -> None:
        """Leave a room.

        Args:
            room: The room's name; leaving a room the socket is not in does nothing.
        """
        self.nsp.adapter.delete(self.id, room)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to these rooms, except this socket.

        Args:
            *rooms: Room names, or iterables of them; a socket in any of them is reached.

        Returns:
            A broadcast operator for the namespace, leaving this socket out (``in_`` is the
            same method).
        """
        return self.broadcast.to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to everyone but these rooms and this socket.

        Args:
            *rooms: Room names, or iterables of them, whose sockets are left out.

        Returns:
            A broadcast operator for the namespace, leaving these rooms and this socket out.
        """
        return self.broadcast.except_(*rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every other socket of the namespace."""
        return BroadcastOperator(self.nsp, except_=frozenset((self.id,)))
