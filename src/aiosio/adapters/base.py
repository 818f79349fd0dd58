"""The adapter contract, mirroring the official ``socket.io-adapter``.

A :class:`Namespace` delegates every multi-socket operation to its adapter: room
membership, broadcasts (encoded once and written to every local recipient), broadcasts with
acknowledgements, and the socket utilities (fetch, join, leave, disconnect). A cluster
adapter forwards the same operations to the other servers and merges their answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, Protocol, TypeAlias, TypeVar

from aiosio.engineio.wire import Wire
from aiosio.socketio.packets import Packet
from aiosio.socketio.parsers import JSONParser, Parser

__all__ = [
    "AckCollector",
    "AckSink",
    "Adapter",
    "BroadcastFlags",
    "BroadcastOptions",
    "FlagChoice",
    "Host",
    "LocalSocket",
    "Recorder",
    "RecoveryLimits",
    "RoomChoice",
    "Session",
    "SocketLike",
    "encode_wires",
    "room_names",
]

Recorder: TypeAlias = Callable[[Packet, "BroadcastOptions"], None]
"""What keeps room histories: ``(packet as delivered, options)`` for each local broadcast."""

AckSink: TypeAlias = Callable[[str, list[Any] | None], None]
"""Where the answers of a broadcast with acknowledgements go: ``(socket id, answer)``, the
answer None when the socket disconnected before answering."""


class AckCollector(Protocol):
    """Where a broadcast with acknowledgements reports, as the server gathers it."""

    def add_count(self, count: int, sids: Iterable[str] = ()) -> None:
        """``count`` more recipients (on one server), named by ``sids`` when known."""

    def add_answer(self, sid: str, answer: list[Any] | None) -> None:
        """The answer of recipient ``sid`` (None: it disconnected before answering)."""

    def counted(self) -> None:
        """Every server of the cluster reported its count (or the cluster gave up)."""


def encode_wires(packet: Packet, parser: Parser = JSONParser()) -> list[Wire]:  # noqa: B008
    """Encode a packet once into the Engine.IO packets every recipient gets.

    Raises:
        LocalProtocolError: When the data cannot be serialised.
    """
    return [Wire(item) for item in parser.encode(packet)]


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
        """

    def disconnect(self, close: bool = False) -> object:
        """Disconnect the socket.

        Args:
            close: Also close its connection (every namespace of it).
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
        """Write a broadcast's shared encoded packets."""

    def emit_packet_with_ack(
        self, packet: Packet, on_ack: AckSink, compress: bool = True, timeout: float | None = None
    ) -> None:
        """Send a broadcast packet with an ack id of the socket's own; the ack is given up
        after ``timeout`` seconds (the broadcast's), without calling ``on_ack``."""


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
        """Encode a broadcast once, in the server's parser and with its compress flag."""

    def emit_local_event(self, event: str, *args: Any) -> None:
        """Run the namespace's handlers of an adapter event (``create-room``, ...)."""

    def on_server_side_emit(self, data: list[Any], ack: Callable[[Any], None] | None) -> None:
        """Run the namespace's handlers of an event another server emitted."""

    def remote_socket(self, details: dict[str, Any]) -> SocketLike:
        """A socket of another server, from what that server answered to ``fetch_sockets``."""


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Flags of one broadcast; ``timeout`` in seconds."""

    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None


_NO_FLAGS = BroadcastFlags()


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast reaches: sockets in any of ``rooms`` (all when empty), minus
    sockets in any of ``except_`` (room names or socket ids)."""

    rooms: frozenset[str] = frozenset()
    except_: frozenset[str] = frozenset()
    flags: BroadcastFlags = _NO_FLAGS


def room_names(rooms: tuple[str | Iterable[str], ...]) -> set[str]:
    """The room names of ``to("a", ["b", "c"])``-style arguments."""
    names: set[str] = set()
    for room in rooms:
        if isinstance(room, str):
            names.add(room)
        else:
            names.update(room)
    return names


Op = TypeVar("Op")


class FlagChoice(Generic[Op]):
    """Mixin of the immutable operators (a broadcast's, an emitter's, a socket's emit):
    ``volatile`` and ``compress``, each a new operator from :meth:`_flag`."""

    __slots__ = ()

    def _flag(self, **changes: Any) -> Op:
        raise NotImplementedError

    @property
    def volatile(self) -> Op:
        """Drop the packet for a recipient whose transport cannot take it now."""
        return self._flag(volatile=True)

    def compress(self, compress: bool = True) -> Op:
        """Set whether the packet may be compressed (permessage-deflate, gzip).

        Args:
            compress: False sends it uncompressed.

        Returns:
            A new operator with the flag; this one is unchanged.
        """
        return self._flag(compress=compress)


class RoomChoice(FlagChoice[Op]):
    """Mixin of the broadcast operators (the server's and the emitters'): ``to``/``in_``
    and ``except_`` over their :class:`BroadcastOptions`, each a new operator from
    :meth:`_derive`; flags change the options' :class:`BroadcastFlags`."""

    __slots__ = ()
    _options: BroadcastOptions

    def _derive(self, **changes: Any) -> Op:
        raise NotImplementedError

    def _flag(self, **changes: Any) -> Op:
        return self._derive(flags=replace(self._options.flags, **changes))

    def to(self, *rooms: str | Iterable[str]) -> Op:
        """Also reach the sockets in these rooms.

        Args:
            *rooms: Room names (or socket ids), or iterables of them.

        Returns:
            A new operator (``in_`` is the same method).
        """
        return self._derive(rooms=self._options.rooms | room_names(rooms))

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> Op:
        """Leave out the sockets in these rooms (or with these ids).

        Args:
            *rooms: Room names (or socket ids), or iterables of them.

        Returns:
            A new operator.
        """
        return self._derive(except_=self._options.except_ | room_names(rooms))


@dataclass(frozen=True, slots=True)
class RecoveryLimits:
    """The bounds of what connection state recovery keeps in memory: packets for
    ``max_age`` seconds (the ``max_disconnection_duration``), at most ``max_packets`` of
    them and ``max_bytes`` encoded, per namespace."""

    max_age: float = 120.0
    max_packets: int = 10_000
    max_bytes: int = 16_000_000


@dataclass(slots=True)
class Session:
    """What connection state recovery keeps of a socket lost for a recoverable reason.

    ``rooms`` include the socket's own id, as the reference writes them. ``offset`` is a
    position in the adapter's log: when persisting, where the socket joined (the replay
    starts there for a client that received no event yet, which the reference cannot
    recover); after a restore, how far ``missed`` reaches. Each packet of ``missed`` is
    the data of an EVENT with its offset as the last argument.
    """

    sid: str
    pid: str
    rooms: list[str]
    data: Any = None
    offset: str | None = None
    missed: list[list[Any]] = field(default_factory=list)


class Adapter:
    """Base adapter: room bookkeeping is abstract here; :mod:`.memory` implements it.

    Subclasses for clusters override the ``*`` operations to reach other servers, calling
    the local versions (``local_*``) for this server's share.
    """

    supports_recovery: ClassVar[bool] = False
    """True when the adapter keeps sessions and offsets (the reference's session-aware
    adapter): it appends the offsets to broadcast events, and the server's recovery keeps
    and restores sessions through :meth:`persist_session`, :meth:`restore_session`,
    :meth:`missed_packets` and :meth:`recovery_offset`. With False, no socket is
    recovered."""

    def __init__(self, namespace: Host) -> None:
        self.namespace = namespace
        self.recorder: Recorder | None = None
        """Set by the namespace while a room has a history: every broadcast delivered on
        this server is handed to it (with its offset when recovery adds one)."""

    async def init(self) -> None:
        """Start (subscribe, connect); called when the namespace is created."""

    async def close(self) -> None:
        """Stop; called when the server closes or the namespace is removed."""

    # -- membership (local) -----------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Add a local socket to rooms.

        Args:
            sid: The socket id.
            rooms: The rooms.
        """
        raise NotImplementedError

    def delete(self, sid: str, room: str) -> None:
        """Remove a local socket from a room.

        Args:
            sid: The socket id.
            room: The room.
        """
        raise NotImplementedError

    def delete_all(self, sid: str) -> None:
        """Remove a local socket from all its rooms (it disconnected).

        Args:
            sid: The socket id.
        """
        raise NotImplementedError

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of a local socket.

        Args:
            sid: The socket id.

        Returns:
            Its rooms, or None for an unknown socket.
        """
        raise NotImplementedError

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
        """Ids of local sockets in any of ``rooms`` (all local sockets when empty)."""
        raise NotImplementedError

    # -- operations (cluster-wide in cluster adapters) --------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Deliver a packet to the matching sockets (of the cluster, in a cluster adapter).

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags.
        """
        raise NotImplementedError

    def broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        """Broadcast asking every recipient for an ack.

        ``collector.add_count(count, sids=())`` is called with the number of recipients
        once per server (the local server also names them), and ``add_answer`` with each
        recipient's socket id and answer (None when it disconnected before answering).
        ``counted()`` is called once, when every server of the cluster has reported its
        count (or the cluster gave up waiting for the missing ones); a cluster adapter
        calls it later than the local count, after the other servers answered.
        """
        raise NotImplementedError

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketLike]:
        """The matching sockets (of the cluster, in a cluster adapter).

        Args:
            options: The rooms, exclusions and flags.

        Returns:
            Local sockets, and stand-ins for remote ones.
        """
        raise NotImplementedError

    def add_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        """Make the matching sockets join rooms.

        Args:
            options: Which sockets.
            rooms: The rooms to join.
        """
        raise NotImplementedError

    def del_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        """Make the matching sockets leave rooms.

        Args:
            options: Which sockets.
            rooms: The rooms to leave.
        """
        raise NotImplementedError

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets.

        Args:
            options: Which sockets.
            close: Also close their connections.
        """
        raise NotImplementedError

    async def server_side_emit(self, args: list[Any], *, timeout: float | None = None) -> list[Any]:
        """Emit to the other servers' namespace handlers; with a timeout, gather acks."""
        raise NotImplementedError

    async def server_count(self) -> int:
        """How many servers share this namespace (this one included)."""
        return 1

    @property
    def healthy(self) -> bool:
        """False while the adapter cannot reach the rest of its cluster."""
        return True

    # -- connection state recovery (used when supports_recovery) --------------------

    def enable_recovery(self, limits: RecoveryLimits, previous: Adapter | None = None) -> None:
        """The server has connection state recovery on; called before :meth:`init`.

        An adapter that keeps sessions in memory bounds them by ``limits``, and takes over
        those of ``previous``, the adapter it replaces (the server closed, or the event
        loop it ran in ended), so that clients still recover after a restart.
        """

    def recovery_offset(self) -> str | None:
        """The offset a socket that joins now would replay from (see :class:`Session`)."""
        return None

    def persist_session(self, session: Session, ttl: float) -> None:
        """Keep a disconnected socket's state for ``ttl`` seconds. Must not block: the
        write is queued, and :meth:`close` completes it."""

    async def restore_session(self, pid: str, offset: str | None) -> Session | None:
        """Take (once) the session ``pid`` and the packets it missed since ``offset``
        (since ``session.offset`` when None); None when either is gone.

        Raises:
            ClusterError: When the store cannot be reached.
        """
        return None

    def missed_packets(self, session: Session) -> list[list[Any]]:
        """What to replay to the restored socket, called when it is connected.

        A cluster adapter adds here what it delivered while the restore was in flight and
        drops what it has yet to deliver, so nothing is lost or sent twice.
        """
        return session.missed
