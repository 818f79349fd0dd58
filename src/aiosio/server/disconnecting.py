"""A socket's departure: disconnecting it, and the end of its life in the namespace.

A mixin of :class:`~aiosio.server.socket.Socket`, kept apart from the emit and dispatch
code. :meth:`SocketDisconnection.disconnect` is the application's (it tells the client);
:meth:`SocketDisconnection.close` is what every departure goes through, whatever its
reason: the ``disconnecting`` handlers while the socket is still in its rooms, then the
rooms left and the pending acknowledgements failed, then the ``disconnect`` handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiosio._acks import TimedAcks
from aiosio.exceptions import Disconnected
from aiosio.server.acks import safe_call
from aiosio.server.socket_part import SocketPart
from aiosio.socketio.packets import DISCONNECT, Packet

if TYPE_CHECKING:
    from typing import Self

__all__ = ["SocketDisconnection"]


class SocketDisconnection(SocketPart):
    """Mixin of :class:`~aiosio.server.socket.Socket`: disconnecting and closing it."""

    __slots__ = ()

    if TYPE_CHECKING:
        _acks: TimedAcks

        def write_packet(self, packet: Packet, compress: bool = True) -> None:
            """Socket's: encode and write one packet to this client."""

    def disconnect(self, close: bool = False) -> Self:
        """Disconnect this socket from its namespace.

        The client is told (a DISCONNECT packet) and the ``disconnect`` handlers run with the
        reason ``"server namespace disconnect"``. A socket already disconnected is left as it is.

        Args:
            close: True closes the whole underlying connection instead, and with it the
                client's sockets in every namespace (reason ``"server namespace disconnect"``
                for each).

        Returns:
            This socket, so that calls can be chained.
        """
        if not self.connected:
            return self
        if close:
            self.conn.disconnect_all()
        else:
            self.write_packet(Packet(DISCONNECT, self.nsp.name))
            self.close("server namespace disconnect")
        return self

    def close(self, reason: str, description: Any = None) -> None:
        """Leave the namespace: ``disconnecting`` handlers, then the rooms, then ``disconnect``.

        The pending acknowledgements fail with :class:`~aiosio.exceptions.Disconnected`. Nothing
        is sent to the client: :meth:`disconnect` is the one that tells it.

        Args:
            reason: The disconnect reason the handlers get (``"transport close"``,
                ``"ping timeout"``...: the table of the server guide).
            description: More about the reason (the transport's error, for one), given to the
                handlers after the reason.
        """
        if not self.connected:
            return
        self._fire("disconnecting", reason, description)
        self.nsp.on_socket_closing(self, reason)  # type: ignore[arg-type]
        self.nsp.adapter.delete_all(self.id)
        self.connected = False  # type: ignore[misc]
        self.nsp.remove(self)  # type: ignore[arg-type]
        self.conn.remove(self)  # type: ignore[arg-type]
        self._release_acks()
        self._fire("disconnect", reason, description)

    def _release_acks(self) -> None:
        self._acks.disarm()
        for callback, error_first, _ in self._acks.release_all():
            if error_first:
                safe_call(callback, Disconnected("the socket disconnected"))

    def _fire(self, event: str, *args: Any) -> None:
        for spec in list(self._handlers.get(event, ())):
            self._call(spec, list(args), None)
