"""Connection state recovery (socket.io 4.6+), kept in this server's memory.

Every broadcast EVENT gets an offset appended as its last argument and is kept for
``max_disconnection_duration`` (bounded by count and bytes too). A socket that loses its
connection for a recoverable reason leaves a session behind (id, rooms, data); a client
that comes back within the window with its ``pid`` and last ``offset`` gets the same id,
rooms and data, ``socket.recovered`` is True, and every kept packet meant for it since that
offset is replayed, in order, once, carrying its offset (so the client's offset advances).

Beyond the reference: a client that received no broadcast yet (and so has no offset) is
still recovered, from the point it connected; and :meth:`Recovery.shutdown` can spread the
disconnections of a graceful shutdown over time so a rolling restart causes no storm.

With an adapter that keeps sessions itself (``Adapter.supports_recovery``, the Redis
streams adapter), the offsets are the adapter's (it appends them to broadcasts), sessions
are persisted through it and restored asynchronously from it, on any server of the cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiosio.adapters.base import BroadcastOptions, Session, encode_wires
from aiosio.exceptions import ClusterError
from aiosio.server.socket import Socket
from aiosio.socketio.packets import EVENT, Packet

if TYPE_CHECKING:
    from aiosio.engineio.wire import Wire
    from aiosio.server.connection import Connection
    from aiosio.server.namespace import Namespace
    from aiosio.server.server import Server

__all__ = ["RECOVERABLE_REASONS", "Recovery"]

logger = logging.getLogger("aiosio.recovery")

RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)


@dataclass(slots=True)
class _Kept:
    seq: int
    rooms: frozenset[str]
    except_: frozenset[str]
    data: list[Any]
    size: int
    time: float


@dataclass(slots=True)
class _Session:
    sid: str
    namespace: str
    rooms: list[str]
    data: Any
    expires: float
    first_seq: int  # replay from here when the client has no offset


class Recovery:
    """The recovery state of one server: kept packets per namespace and sessions."""

    def __init__(
        self,
        server: Server,
        *,
        max_disconnection_duration: float = 120.0,
        skip_middlewares: bool = True,
        max_packets: int = 10_000,
        max_bytes: int = 16_000_000,
        shutdown_spread: float = 0.0,
    ) -> None:
        self.server = server
        self.max_disconnection_duration = max_disconnection_duration
        self.skip_middlewares = skip_middlewares
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.shutdown_spread = shutdown_spread
        self._prefix = secrets.token_hex(4) + "-"
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._kept: dict[str, deque[_Kept]] = {}
        self._kept_bytes: dict[str, int] = {}
        self._dropped: dict[str, int] = {}  # namespace -> newest seq no longer kept
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._first_seq: dict[str, int] = {}  # pid -> first seq a connected socket may miss
        self._replay: dict[str, list[list[Any]]] = {}  # socket id -> packets to replay
        self._rooms: dict[str, list[str]] = {}  # socket id -> rooms to join again
        # With an adapter that supports recovery:
        self._first_offset: dict[str, str | None] = {}  # pid -> where a connected socket joined
        self._restored: dict[str, Session] = {}  # socket id -> session restored by the adapter
        self._expiry: asyncio.TimerHandle | None = None  # for the oldest kept session

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # -- broadcasts ---------------------------------------------------------------------

    def prepare_broadcast(
        self, namespace: Namespace, packet: Packet, options: BroadcastOptions
    ) -> list[Wire] | None:
        """Append an offset to a broadcast EVENT, keep it, and encode it once."""
        if namespace.adapter.supports_recovery:
            return None  # the adapter appended its own offset
        if packet.type is not EVENT or options.flags.volatile or not packet.data:
            return None
        seq = next(self._seq)
        self._last_seq = seq
        data = [*packet.data, self._prefix + str(seq)]
        wires = encode_wires(Packet(EVENT, packet.namespace, data), self.server.parser)
        size = sum(len(wire.data) for wire in wires)
        now = self._now()
        kept = self._kept.setdefault(namespace.name, deque())
        kept.append(_Kept(seq, options.rooms, options.except_, data, size, now))
        total = self._kept_bytes.get(namespace.name, 0) + size
        oldest = now - self.max_disconnection_duration
        while kept and (
            len(kept) > self.max_packets or total > self.max_bytes or kept[0].time < oldest
        ):
            dropped = kept.popleft()
            total -= dropped.size
            self._dropped[namespace.name] = dropped.seq
        self._kept_bytes[namespace.name] = total
        return wires

    # -- sessions -----------------------------------------------------------------------

    def closing(self, socket: Socket, reason: str) -> None:
        """Keep the session of a socket lost for a recoverable reason."""
        pid = socket.pid
        if pid is None:
            return
        adapter = socket.nsp.adapter
        if adapter.supports_recovery:
            first_offset = self._first_offset.pop(pid, None)
            if reason in RECOVERABLE_REASONS:
                session = Session(socket.id, pid, sorted(socket.rooms), socket.data, first_offset)
                adapter.persist_session(session, self.max_disconnection_duration)
            return
        first_seq = self._first_seq.pop(pid, self._last_seq + 1)
        self._expire()
        if reason not in RECOVERABLE_REASONS:
            return
        self._sessions[pid] = _Session(
            sid=socket.id,
            namespace=socket.nsp.name,
            rooms=sorted(socket.rooms - {socket.id}),
            data=socket.data,
            expires=self._now() + self.max_disconnection_duration,
            first_seq=first_seq,
        )
        if self._expiry is None:
            self._arm_expiry()

    def bind(self) -> None:
        """Arm the expiry timer in the running loop (the server starts, perhaps again in
        a new loop: a timer of a closed loop never fires)."""
        if self._expiry is not None:
            self._expiry.cancel()
        self._arm_expiry()

    def _arm_expiry(self) -> None:
        """One timer for every kept session: without it, sessions would outlive their
        expiry until the next disconnect or recovery (docs/limits.md: released on expiry).
        Sessions are kept in expiry order, so the first one is the next to go."""
        self._expiry = None
        if self._sessions:
            first = next(iter(self._sessions.values()))
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(first.expires, self._on_expiry)

    def _on_expiry(self) -> None:
        self._expire()
        self._arm_expiry()

    def _expire(self) -> None:
        now = self._now()
        sessions = self._sessions
        while sessions:
            pid, session = next(iter(sessions.items()))
            if session.expires > now:
                break
            del sessions[pid]

    def restore(
        self, namespace: Namespace, conn: Connection, auth: dict[str, Any]
    ) -> Socket | Awaitable[Socket | None] | None:
        """The recovered socket for a CONNECT with a valid ``pid`` (and offset), or None;
        awaitable when the namespace's adapter keeps the sessions."""
        pid = auth.get("pid")
        if not isinstance(pid, str):
            return None
        if namespace.adapter.supports_recovery:
            return self._restore_from_adapter(namespace, conn, auth, pid)
        self._expire()
        session = self._sessions.get(pid)
        if session is None or session.namespace != namespace.name:
            return None
        start = self._start_seq(session, auth.get("offset"))
        kept = self._kept.get(namespace.name, deque())
        if start is None or start <= self._dropped.get(namespace.name, 0):
            return None  # what it missed is no longer kept: a fresh session instead
        del self._sessions[pid]
        rooms = {session.sid, *session.rooms}
        missed = [
            item.data
            for item in kept
            if item.seq >= start
            and (not item.rooms or not item.rooms.isdisjoint(rooms))
            and item.except_.isdisjoint(rooms)
        ]
        socket = Socket(namespace, conn, auth, sid=session.sid)
        socket.pid = pid
        socket.data = session.data
        socket.recovered = True
        self._replay[socket.id] = missed
        self._rooms[socket.id] = session.rooms
        return socket

    async def _restore_from_adapter(
        self, namespace: Namespace, conn: Connection, auth: dict[str, Any], pid: str
    ) -> Socket | None:
        offset = auth.get("offset")
        if offset is not None and not isinstance(offset, str):
            return None
        try:
            session = await namespace.adapter.restore_session(pid, offset)
        except ClusterError as exc:
            logger.warning("session %s not restored: %s", pid, exc)
            return None
        if session is None or session.sid in namespace.sockets:
            return None
        socket = Socket(namespace, conn, auth, sid=session.sid)
        socket.pid = pid
        socket.data = session.data
        socket.recovered = True
        self._restored[socket.id] = session
        self._rooms[socket.id] = [room for room in session.rooms if room != session.sid]
        return socket

    def _start_seq(self, session: _Session, offset: Any) -> int | None:
        if offset is None:
            return session.first_seq
        if not isinstance(offset, str) or not offset.startswith(self._prefix):
            return None
        digits = offset[len(self._prefix) :]
        # ASCII and short: "²".isdigit() is true and int() refuses it, as it refuses
        # more than 4,300 digits; both come from the client.
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
            return None
        return int(digits) + 1

    def connecting(self, socket: Socket) -> None:
        """Before the CONNECT ack: a pid for a new socket, the rooms of a recovered one."""
        if socket.recovered:
            socket.join(self._rooms.pop(socket.id, ()))
            return
        socket.pid = secrets.token_urlsafe(16)
        adapter = socket.nsp.adapter
        if adapter.supports_recovery:
            self._first_offset[socket.pid] = adapter.recovery_offset()
        else:
            self._first_seq[socket.pid] = self._last_seq + 1

    def connected(self, socket: Socket) -> None:
        """After the CONNECT ack: replay what a recovered socket missed, in order."""
        adapter = socket.nsp.adapter
        if adapter.supports_recovery:
            if socket.recovered:
                self._first_offset[socket.pid or ""] = adapter.recovery_offset()
            session = self._restored.pop(socket.id, None)
            missed = adapter.missed_packets(session) if session is not None else []
        else:
            if socket.recovered:
                self._first_seq[socket.pid or ""] = self._last_seq + 1
            missed = self._replay.pop(socket.id, [])
        for data in missed:
            socket.write_packet(Packet(EVENT, socket.nsp.name, data))

    async def shutdown(self) -> None:
        """Disconnect every client as "server shutting down" (recoverable), spread over
        ``shutdown_spread`` seconds in batches so that clients do not return at once."""
        sessions = list(self.server.engine.sessions.values())
        if not sessions or self.shutdown_spread <= 0:
            return
        batches = 10
        size = max(1, -(-len(sessions) // batches))
        pause = self.shutdown_spread / batches
        for start in range(0, len(sessions), size):
            for session in sessions[start : start + size]:
                session.close_transport("server shutting down")
            await asyncio.sleep(pause)
