"""The broadcasting shortcuts of what starts broadcasts: a server's Namespace, the server
itself (for its main namespace) and the Redis Emitter. Each shortcut starts a fresh
operator with ``_operator()`` and forwards one call to it, as the Node server's
``namespace.to(...)``; written once here for the three of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Protocol, Self, TypeVar

__all__ = ["Operator", "Shortcuts"]


class Operator(Protocol):
    """What a shortcut forwards to: an immutable choice of rooms and flags."""

    def to(self, *rooms: str | Iterable[str]) -> Self: ...
    def except_(self, *rooms: str | Iterable[str]) -> Self: ...
    @property
    def volatile(self) -> Self: ...
    def compress(self, compress: bool = True) -> Self: ...
    def sockets_join(self, rooms: str | Iterable[str]) -> None: ...
    def sockets_leave(self, rooms: str | Iterable[str]) -> None: ...
    def disconnect_sockets(self, close: bool = False) -> None: ...


Op = TypeVar("Op", bound=Operator)


class Shortcuts(Generic[Op]):
    """Mixin: ``to``/``in_``/``except_``, ``volatile``, ``compress`` and the remote room
    operations, each on a fresh operator from :meth:`_operator`."""

    __slots__ = ()

    def _operator(self) -> Op:
        raise NotImplementedError

    def to(self, *rooms: str | Iterable[str]) -> Op:
        """Only the sockets in these rooms (in any of them; each socket once).

        Args:
            *rooms: Room names, or iterables of them (a socket id is a room too).

        Returns:
            A new operator; ``in_`` is the same method.
        """
        return self._operator().to(*rooms)

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> Op:
        """Not the sockets in these rooms.

        Args:
            *rooms: Room names (or socket ids), or iterables of them.

        Returns:
            A new operator.
        """
        return self._operator().except_(*rooms)

    @property
    def volatile(self) -> Op:
        """Droppable: not sent to a socket whose transport is not ready."""
        return self._operator().volatile

    def compress(self, compress: bool = True) -> Op:
        """Set whether the broadcast may be compressed.

        Args:
            compress: False sends it uncompressed.

        Returns:
            A new operator.
        """
        return self._operator().compress(compress)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets join rooms (on every server of a cluster).

        Args:
            rooms: A room or several.
        """
        self._operator().sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets leave rooms.

        Args:
            rooms: A room or several.
        """
        self._operator().sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the chosen sockets.

        Args:
            close: Close their whole connections too (every namespace of them).
        """
        self._operator().disconnect_sockets(close)
