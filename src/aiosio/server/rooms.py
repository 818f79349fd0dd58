"""A socket's rooms: joining and leaving them, and broadcasting from the socket.

A mixin of :class:`~aiosio.server.socket.Socket`, kept apart from the emit and dispatch
code: the rooms live in the namespace's adapter, and the operators built here are
:class:`~aiosio.server.broadcast.BroadcastOperator` objects that leave the sender out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiosio.server.broadcast import BroadcastOperator

if TYPE_CHECKING:
    from aiosio.presence.history import Replay
    from aiosio.server.namespace import Namespace

__all__ = ["SocketRooms"]


class SocketRooms:
    """Mixin of :class:`~aiosio.server.socket.Socket`: its rooms and broadcasts."""

    __slots__ = ()

    if TYPE_CHECKING:
        id: str
        nsp: Namespace

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (a copy), its own id included."""
        return set(self.nsp.adapter.socket_rooms(self.id) or ())

    def join(self, rooms: str | Iterable[str], *, rewind: int | None = None) -> Replay | None:
        """Join one room or several.

        With ``rewind``, ``rooms`` is one room with a history (``nsp.history(room)``): its
        last ``rewind`` events are written to this socket and it joins, in one step, so
        the live events follow with no gap and no duplicate. The :class:`Replay` returned
        says what was sent and whether older events were trimmed.

        Raises:
            ValueError: ``rewind`` is not a positive integer within the limit, or the
                room has no history.
        """
        if rewind is None:
            self.nsp.adapter.add_all(self.id, [rooms] if isinstance(rooms, str) else rooms)
            return None
        return self.nsp.rewind(self, rooms, rewind)  # type: ignore[arg-type]

    def leave(self, room: str) -> None:
        """Leave a room."""
        self.nsp.adapter.delete(self.id, room)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to these rooms, except this socket."""
        return self.broadcast.to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to everyone but these rooms and this socket."""
        return self.broadcast.except_(*rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every other socket of the namespace."""
        return BroadcastOperator(self.nsp, except_=frozenset((self.id,)))
