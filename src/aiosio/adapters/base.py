"""The adapter contract, mirroring the official ``socket.io-adapter``.

A :class:`Namespace` delegates every multi-socket operation to its adapter: room
membership, broadcasts (encoded once and written to every local recipient), broadcasts with
acknowledgements, and the socket utilities (fetch, join, leave, disconnect). A cluster
adapter forwards the same operations to the other servers and merges their answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from aiosio.adapters.host import AckCollector, AckSink, Host, LocalSocket, SocketLike
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


def encode_wires(packet: Packet, parser: Parser = JSONParser()) -> list[Wire]:  # noqa: B008
    """Encode a packet once into the Engine.IO packets every recipient gets.

    Args:
        packet: The packet to broadcast.
        parser: The server's parser (JSON by default, or msgpack).

    Returns:
        The Engine.IO messages: the packet, then its binary attachments, if any.

    Raises:
        LocalProtocolError: When the data cannot be serialised.
    """
    return [Wire(item) for item in parser.encode(packet)]


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Flags of one broadcast.

    Attributes:
        volatile: Drop the packet for sockets whose transport is not ready.
        compress: False sends it uncompressed.
        local: Reach this server's sockets only, in a cluster.
        timeout: Seconds the recipients have to acknowledge; None for no deadline.
    """

    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None


_NO_FLAGS = BroadcastFlags()


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast reaches: sockets in any of ``rooms``, minus sockets in any of ``except_``.

    Attributes:
        rooms: The rooms reached; empty reaches every socket of the namespace.
        except_: The rooms (socket ids included) left out.
        flags: How the packet travels.
    """

    rooms: frozenset[str] = frozenset()
    except_: frozenset[str] = frozenset()
    flags: BroadcastFlags = _NO_FLAGS


def room_names(rooms: tuple[str | Iterable[str], ...]) -> set[str]:
    """The room names of ``to("a", ["b", "c"])``-style arguments.

    Args:
        rooms: Room names, or iterables of them (a string is one room).

    Returns:
        Every room named, once.
    """
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
    """The bounds of what connection state recovery keeps in memory, per namespace.

    Attributes:
        max_age: Seconds a packet is kept (the ``max_disconnection_duration``).
        max_packets: At most this many packets are kept.
        max_bytes: At most this many encoded bytes are kept.
    """

    max_age: float = 120.0
    max_packets: int = 10_000
    max_bytes: int = 16_000_000


@dataclass(slots=True)
class Session:
    """What connection state recovery keeps of a socket lost for a recoverable reason.

    Attributes:
        sid: The socket's id, which the restored socket takes again.
        pid: The private id the client sends to recover (never shown to other clients).
        rooms: Its rooms, its own id included, as the reference writes them.
        data: Its ``socket.data``.
        offset: A position in the adapter's log: when persisting, where the socket joined
            (the replay starts there for a client that received no event yet, which the
            reference cannot recover); after a restore, how far ``missed`` reaches.
        missed: The packets to replay: each the data of an EVENT with its offset as the
            last argument.
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

    Args:
        namespace: The namespace the adapter serves (the server passes it to the adapter
            factory).
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
        """The local sockets in some rooms.

        Args:
            rooms: Room names; empty means every local socket.

        Returns:
            The ids of the local sockets in any of ``rooms``.

        """
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

        ``collector.add_count(count, sids=())`` is called with the number of recipients once per
        server (the local server also names them), and ``add_answer`` with each recipient's
        socket id and answer (None when it disconnected before answering). ``counted()`` is
        called once, when every server of the cluster has reported its count (or the cluster
        gave up waiting for the missing ones); a cluster adapter calls it later than the local
        count, after the other servers answered.

        Args:
            packet: The packet, without an ack id (each recipient gets one of its own).
            options: The rooms, exclusions and flags (``timeout`` included).
            collector: Where the counts and answers go.

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
        """Emit to the other servers' namespace handlers.

        Args:
            args: The event as ``[event, *args]``.
            timeout: Seconds to wait for the other servers' acknowledgements; None asks for
                none.

        Returns:
            The other servers' answers (an empty list without a timeout).

        """
        raise NotImplementedError

    async def server_count(self) -> int:
        """How many servers share this namespace.

        Returns:
            The count, this server included (1 for a single server).
        """
        return 1

    @property
    def healthy(self) -> bool:
        """False while the adapter cannot reach the rest of its cluster."""
        return True

    # -- connection state recovery (used when supports_recovery) --------------------

    def enable_recovery(self, limits: RecoveryLimits, previous: Adapter | None = None) -> None:
        """The server has connection state recovery on; called before :meth:`init`.

        An adapter that keeps sessions in memory bounds them by ``limits``, and takes over those
        of ``previous``, so that clients still recover after a restart.

        Args:
            limits: How much to keep.
            previous: The adapter this one replaces (the server closed, or the event loop it
                ran in ended), or None.
        """

    def recovery_offset(self) -> str | None:
        """The offset a socket that joins now would replay from (see :class:`Session`).

        Returns:
            The offset, or None when the adapter keeps no log.
        """
        return None

    def persist_session(self, session: Session, ttl: float) -> None:
        """Keep a disconnected socket's state.

        Must not block: the write is queued, and :meth:`close` completes it.

        Args:
            session: The socket's state.
            ttl: Seconds to keep it (the recovery window).
        """

    async def restore_session(self, pid: str, offset: str | None) -> Session | None:
        """Take (once) a session and the packets it missed.

        Args:
            pid: The private id the client sent.
            offset: The last offset the client received; None replays from
                ``session.offset``.

        Returns:
            The session with its ``missed`` packets, or None when either is gone.

        Raises:
            ClusterError: When the store cannot be reached.
        """
        return None

    def missed_packets(self, session: Session) -> list[list[Any]]:
        """What to replay to the restored socket, called when it is connected.

        A cluster adapter adds here what it delivered while the restore was in flight and drops
        what it has yet to deliver, so nothing is lost or sent twice.

        Args:
            session: The restored session.

        Returns:
            The packets to replay, each the data of an EVENT.
        """
        return session.missed
