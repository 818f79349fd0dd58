"""SocketPart: what the mixins of :class:`~aiosio.server.socket.Socket` use of the socket.

Socket is assembled from mixins kept apart from its emit and dispatch code (its rooms,
its packet middlewares, its disconnection). Each of them reads the socket's id, namespace,
connection and handlers; this base declares them once, for the type checker, instead of
once in each mixin. It holds nothing: Socket's own slots hold the values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosio._handlers import HandlerSpec
    from aiosio.server.connection import Connection
    from aiosio.server.namespace import Namespace

__all__ = ["SocketPart"]


class SocketPart:
    """Base of Socket's mixins: the socket's attributes they share (Socket sets them)."""

    __slots__ = ()

    id: str
    nsp: Namespace
    conn: Connection
    connected: bool
    _handlers: dict[str, list[HandlerSpec]]

    if TYPE_CHECKING:

        def _call(
            self, spec: HandlerSpec, args: list[Any], ack_id: int | None, event: Any = None
        ) -> None:
            """Socket's: run one handler with the event's arguments."""
