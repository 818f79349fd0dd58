"""What an adapter sees of the server: its namespace (:class:`Host`), the namespace's
sockets (:class:`LocalSocket`, and :class:`SocketLike` for another server's too), and
where the answers of a broadcast with acknowledgements go (:class:`AckCollector`).

The adapter contract (:mod:`aiosio.adapters.base`) is written against these protocols,
never against the server's classes, so that adapters do not import the server:
:class:`~aiosio.server.namespace.Namespace` and :class:`~aiosio.server.socket.Socket`
satisfy them (mypy checks it where the server hands itself to its adapter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from aiosio.engineio.wire import Wire
from aiosio.socketio.packets import Packet
from aiosio.socketio.parsers import AckSlot

if TYPE_CHECKING:
    from aiosio.adapters.base import BroadcastOptions

__all__ = ["AckCollector", "AckSink", "Host", "LocalSocket", "SocketLike"]

AckSink: TypeAlias = Callable[[str, list[Any] | None], None]
"""Where the answers of a broadcast with acknowledgements go: ``(socket id, answer)``, the
answer None when the socket disconnected before answering."""


class AckCollector(Protocol):
    """Where a broadcast with acknowledgements reports, as the server gathers it."""

    def add_count(self, count: int, sids: Iterable[str] = ()) -> None:
        """Report ``count`` more recipients (on one server).

        Args:
            count: How many sockets of that server got the packet.
            sids: Their ids, when the server knows them (the local server names them; the
                others only count).
        """

    def add_answer(self, sid: str, answer: list[Any] | None) -> None:
        """Report the answer of one recipient.

        Args:
            sid: The recipient's socket id.
            answer: The arguments it acknowledged with; None when it disconnected before
                answering.
        """

    def counted(self) -> None:
        """Every server of the cluster reported its count (or the cluster gave up)."""


class SocketLike(Protocol):
    """A socket as ``fetch_sockets`` returns it: local, or on another server."""

    @property
    def id(self) -> str:
        """The socket id."""

    @property
    def rooms(self) -> set[str]:
        """The rooms the socket is in."""

    @property
    def data(self) -> Any:
        """The socket's ``data``, the application's own."""

    def join(self, rooms: str | Iterable[str]) -> object:
        """Make the socket join rooms.

        Args:
            rooms: A room or several.

        Returns:
            Nothing the adapter uses (a local socket may return a replay, a remote one None).
        """

    def disconnect(self, close: bool = False) -> object:
        """Disconnect the socket.

        Args:
            close: Also close its connection (every namespace of it).

        Returns:
            Nothing the adapter uses (a local socket returns itself).
        """


class LocalSocket(SocketLike, Protocol):
    """What an adapter may touch of a socket of its namespace on this server."""

    @property
    def handshake(self) -> Any:
        """A dataclass: what the client sent when it connected."""

    def leave(self, room: str) -> None:
        """Make the socket leave a room.

        Args:
            room: The room.
        """

    def write_wires(self, wires: list[Wire], packet: Packet, volatile: bool) -> None:
        """Write a broadcast's shared encoded packets.

        Args:
            wires: The encoded packet, as the Engine.IO messages to write.
            packet: The packet they encode (for the socket's outgoing listeners).
            volatile: Drop them while the transport is not ready.
        """

    def emit_packet_with_ack(
        self,
        packet: Packet,
        on_ack: AckSink,
        compress: bool = True,
        timeout: float | None = None,
        slot: AckSlot | None = None,
    ) -> None:
        """Send a broadcast packet with an ack id of the socket's own.

        Args:
            packet: The broadcast's packet; its id is replaced by the socket's.
            on_ack: Gets ``(socket id, answer)``; the answer None when the socket disconnects
                before answering.
            compress: False sends the packet uncompressed.
            timeout: The broadcast's deadline in seconds: then the ack is given up without
                calling ``on_ack``. None waits as long as the socket stays connected.
            slot: The packet as :meth:`Host.prepare_broadcast_with_ack` encoded it once for
                every recipient; None has the socket encode it.
        """


class Host(Protocol):
    """What an adapter may touch of its namespace (and, through it, of the server)."""

    @property
    def name(self) -> str:
        """The namespace's name."""

    @property
    def sockets(self) -> Mapping[str, LocalSocket]:
        """The connected sockets of this namespace on this server, by id."""

    @property
    def recovers(self) -> bool:
        """Whether the server has connection state recovery on."""

    def prepare_broadcast(self, packet: Packet, options: BroadcastOptions) -> list[Wire]:
        """Have the server encode a broadcast once, for every local recipient.

        Args:
            packet: The packet the adapter delivers.
            options: Its options; the server reads the ``compress`` flag, and encodes
                with its own parser (JSON or msgpack).

        Returns:
            What the adapter hands to each recipient's :meth:`LocalSocket.write_wires`.
        """

    def prepare_broadcast_with_ack(self, packet: Packet) -> AckSlot | None:
        """Have the server encode a broadcast with acknowledgements once, but for the ack
        id each recipient gets.

        Args:
            packet: The EVENT the adapter delivers.

        Returns:
            What the adapter hands to each recipient's
            :meth:`LocalSocket.emit_packet_with_ack`, or None (each recipient encodes).
        """

    def emit_local_event(self, event: str, *args: Any) -> None:
        """Run the namespace's handlers of an adapter event.

        Args:
            event: ``create-room``, ``delete-room``, ``join-room`` or ``leave-room``.
            *args: The room, and for joins and leaves the socket id.
        """

    def on_server_side_emit(self, data: list[Any], ack: Callable[[Any], None] | None) -> None:
        """Run the namespace's handlers of an event another server emitted.

        Args:
            data: The event as ``[event, *args]``.
            ack: Sends the first handler's answer back; None when none was asked for.
        """

    def remote_socket(self, details: dict[str, Any]) -> SocketLike:
        """A socket of another server, from what that server answered to ``fetch_sockets``.

        Args:
            details: The socket as the other server described it (id, handshake, rooms, data).

        Returns:
            A stand-in whose operations go through the adapter.
        """
