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
    """Room membership of the local sockets of one namespace."""

    supports_recovery = True

    def __init__(self, namespace: Host) -> None:
        super().__init__(namespace)
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        self.log: SessionLog | None = None  # with connection state recovery on

    async def init(self) -> None:
        if self.log is not None:
            self.log.bind()  # the expiry timer, in the loop the server runs in now

    # -- membership -------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
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
        mine = self.sids.pop(sid, None)
        for room in mine or ():
            self._leave(sid, room)

    def socket_rooms(self, sid: str) -> set[str] | None:
        return self.sids.get(sid)

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
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
        self.local_broadcast(packet, options)

    def local_broadcast(self, packet: Packet, options: BroadcastOptions) -> int:
        """Write ``packet`` to every local recipient; return how many got it."""
        log = self.log
        if log is not None and (stamped := log.stamp(packet, options.flags.volatile)) is not None:
            # Recovery: the packet goes out with its offset, and is kept for replays.
            wires = self.namespace.prepare_broadcast(stamped, options)
            size = sum(len(wire.data) for wire in wires)
            log.keep(stamped.data, options.rooms, options.except_, size)
        else:
            wires = self.namespace.prepare_broadcast(packet, options)
        targets = self._targets(options)
        volatile = options.flags.volatile
        for socket in targets:
            socket.write_wires(wires, packet, volatile)
        return len(targets)

    def broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        self.local_broadcast_with_ack(packet, options, collector)
        collector.counted()

    def local_broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        """Every local recipient gets the packet with its own ack id (per namespace);
        ``collector.counted`` is left to the caller."""
        targets = self._targets(options)
        collector.add_count(len(targets), [socket.id for socket in targets])
        compress = options.flags.compress
        timeout = options.flags.timeout
        on_ack = collector.add_answer
        for socket in targets:
            socket.emit_packet_with_ack(packet, on_ack, compress, timeout)

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketLike]:
        return list(self._targets(options))

    def add_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        for socket in self._targets(options):
            socket.join(rooms)

    def del_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        for socket in self._targets(options):
            for room in rooms:
                socket.leave(room)

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        for socket in self._targets(options):
            socket.disconnect(close)

    async def server_side_emit(self, args: list[Any], *, timeout: float | None = None) -> list[Any]:
        # A cluster of one: no other server hears it, and with acks there are none to wait for.
        return []

    # -- connection state recovery ------------------------------------------------------

    def enable_recovery(self, limits: RecoveryLimits, previous: Adapter | None = None) -> None:
        if isinstance(previous, InMemoryAdapter) and previous.log is not None:
            self.log = previous.log
            self.log.limits = limits
        else:
            self.log = SessionLog(limits)

    def recovery_offset(self) -> str | None:
        return None if self.log is None else self.log.offset()

    def persist_session(self, session: Session, ttl: float) -> None:
        if self.log is not None:
            self.log.persist(session, ttl)

    async def restore_session(self, pid: str, offset: str | None) -> Session | None:
        return None if self.log is None else self.log.restore(pid, offset)
