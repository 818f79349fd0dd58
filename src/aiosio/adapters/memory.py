"""The default adapter: rooms in memory, one server.

With connection state recovery on it is session-aware, as the reference's
``SessionAwareAdapter``: the broadcasts it delivers get an offset and are kept, with the
sessions of lost sockets, in a :class:`~aiosio.adapters.sessions.SessionLog`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiosio.adapters.base import (
    AckCollector,
    Adapter,
    BroadcastOptions,
    Host,
    LocalSocket,
    RecoveryLimits,
    Session,
    SocketLike,
)
from aiosio.adapters.sessions import SessionLog
from aiosio.socketio.packets import Packet

__all__ = ["InMemoryAdapter"]


class InMemoryAdapter(Adapter):
    """Room membership of the local sockets of one namespace.

    Args:
        namespace: The namespace the adapter serves.
    """

    supports_recovery = True

    def __init__(self, namespace: Host) -> None:
        super().__init__(namespace)
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        self.log: SessionLog | None = None  # with connection state recovery on

    async def init(self) -> None:
        """Start the recovery log's expiry timer, if recovery is on."""
        if self.log is not None:
            self.log.bind()  # the expiry timer, in the loop the server runs in now

    # -- membership -------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Add a socket to rooms (see :meth:`Adapter.add_all`).

        Args:
            sid: The socket id.
            rooms: The rooms.
        """
        mine = self.sids.get(sid)
        if mine is None:
            mine = self.sids[sid] = set()
        for room in rooms:
            if room in mine:
                continue
            mine.add(room)
            members = self.rooms.get(room)
            if members is None:
                self.rooms[room] = {sid}
                self.namespace.emit_local_event("create-room", room)
            else:
                members.add(sid)
            self.namespace.emit_local_event("join-room", room, sid)

    def delete(self, sid: str, room: str) -> None:
        """Remove a socket from a room, and an empty room with it.

        Args:
            sid: The socket id.
            room: The room.
        """
        mine = self.sids.get(sid)
        if mine is None or room not in mine:
            return
        mine.discard(room)
        self._leave(sid, room)

    def _leave(self, sid: str, room: str) -> None:
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(sid)
        self.namespace.emit_local_event("leave-room", room, sid)
        if not members:
            del self.rooms[room]
            self.namespace.emit_local_event("delete-room", room)

    def delete_all(self, sid: str) -> None:
        """Remove a socket from all its rooms.

        Args:
            sid: The socket id.
        """
        mine = self.sids.pop(sid, None)
        for room in mine or ():
            self._leave(sid, room)

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of a socket.

        Args:
            sid: The socket id.

        Returns:
            Its rooms, or None for an unknown socket.
        """
        return self.sids.get(sid)

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
        """The ids of the sockets in any of the rooms.

        Args:
            rooms: The rooms; none means every socket.

        Returns:
            The socket ids.
        """
        return {socket.id for socket in self._targets(BroadcastOptions(frozenset(rooms)))}

    def _targets(self, options: BroadcastOptions) -> list[LocalSocket]:
        """The local sockets a broadcast reaches, each once."""
        connected = self.namespace.sockets
        rooms = options.rooms
        if not rooms:
            sids: Iterable[str] = connected.keys()
        elif len(rooms) == 1:
            (room,) = rooms
            sids = self.rooms.get(room, ())
        else:
            union: set[str] = set()
            for room in rooms:
                union.update(self.rooms.get(room, ()))
            sids = union
        excluded = options.except_
        if excluded:
            skip: set[str] = set()
            for room in excluded:
                skip.update(self.rooms.get(room, ()))
            return [connected[sid] for sid in sids if sid not in skip and sid in connected]
        return [connected[sid] for sid in sids if sid in connected]

    # -- operations -------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Deliver a packet to the matching local sockets.

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags.
        """
        self.local_broadcast(packet, options)

    def local_broadcast(self, packet: Packet, options: BroadcastOptions) -> int:
        """Write ``packet`` to every local recipient.

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags.

        Returns:
            How many local sockets got it.
        """
        log = self.log
        if log is not None and (stamped := log.stamp(packet, options.flags.volatile)) is not None:
            # Recovery: the packet goes out with its offset, and is kept for replays.
            wires = self.namespace.prepare_broadcast(stamped, options)
            size = sum(len(wire.data) for wire in wires)
            log.keep(stamped.data, options.rooms, options.except_, size)
            if self.recorder is not None:
                self.recorder(stamped, options)
        else:
            wires = self.namespace.prepare_broadcast(packet, options)
            if self.recorder is not None:
                self.recorder(packet, options)
        targets = self._targets(options)
        volatile = options.flags.volatile
        for socket in targets:
            socket.write_wires(wires, packet, volatile)
        return len(targets)

    def broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        """Deliver a packet asking each matching local socket for an acknowledgement.

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags.
            collector: Receives the count and the answers.
        """
        self.local_broadcast_with_ack(packet, options, collector)
        collector.counted()

    def local_broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        """Every local recipient gets the packet with its own ack id (per namespace).

        ``collector.counted`` is left to the caller.

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags (``timeout`` included).
            collector: Gets the local count, with the recipients' ids, then their answers.
        """
        targets = self._targets(options)
        collector.add_count(len(targets), [socket.id for socket in targets])
        compress = options.flags.compress
        timeout = options.flags.timeout
        on_ack = collector.add_answer
        slot = self.namespace.prepare_broadcast_with_ack(packet) if targets else None
        for socket in targets:
            socket.emit_packet_with_ack(packet, on_ack, compress, timeout, slot)

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketLike]:
        """The matching local sockets.

        Args:
            options: The rooms, exclusions and flags.

        Returns:
            The sockets.
        """
        return list(self._targets(options))

    def add_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        """Make the matching local sockets join rooms.

        Args:
            options: Which sockets.
            rooms: The rooms to join.
        """
        for socket in self._targets(options):
            socket.join(rooms)

    def del_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        """Make the matching local sockets leave rooms.

        Args:
            options: Which sockets.
            rooms: The rooms to leave.
        """
        for socket in self._targets(options):
            for room in rooms:
                socket.leave(room)

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching local sockets.

        Args:
            options: Which sockets.
            close: Also close their connections.
        """
        for socket in self._targets(options):
            socket.disconnect(close)

    async def server_side_emit(self, args: list[Any], *, timeout: float | None = None) -> list[Any]:
        """A server alone has no other server to tell: nothing is sent.

        Args:
            args: The event and its arguments.
            timeout: Unused: there are no answers to wait for.

        Returns:
            An empty list.
        """
        # A cluster of one: no other server hears it, and with acks there are none to wait for.
        return []

    # -- connection state recovery ------------------------------------------------------

    def enable_recovery(self, limits: RecoveryLimits, previous: Adapter | None = None) -> None:
        """Keep an in-memory log of broadcasts for connection state recovery.

        Args:
            limits: How long and how much to keep.
            previous: The adapter this one replaces, whose log it takes over.
        """
        if isinstance(previous, InMemoryAdapter) and previous.log is not None:
            self.log = previous.log
            self.log.limits = limits
        else:
            self.log = SessionLog(limits)

    def recovery_offset(self) -> str | None:
        """The offset of the last logged broadcast.

        Returns:
            The offset, or None without recovery.
        """
        return None if self.log is None else self.log.offset()

    def persist_session(self, session: Session, ttl: float) -> None:
        """Keep a disconnected socket's session for ``ttl`` seconds.

        Args:
            session: The socket's id, rooms, data and offset.
            ttl: Seconds it may be restored for.
        """
        if self.log is not None:
            self.log.persist(session, ttl)

    async def restore_session(self, pid: str, offset: str | None) -> Session | None:
        """Take back a kept session, with what it missed after ``offset``.

        Args:
            pid: The private id the client sent.
            offset: The last offset the client received.

        Returns:
            The session, or None.
        """
        return None if self.log is None else self.log.restore(pid, offset)
