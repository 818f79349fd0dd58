"""Connection state recovery (socket.io 4.6+), the server's side: restoring sockets.

What is kept lives in the adapter, as in the reference's session-aware adapter: it
appends an offset to every broadcast EVENT and keeps it (the in-memory adapter for
``max_disconnection_duration``, bounded by count and bytes too; the Redis streams adapter
in its stream, across the cluster), and it keeps the sessions. Here, a socket that loses
its connection for a recoverable reason leaves a session behind (id, rooms, data, where
it joined); a client that comes back within the window with its ``pid`` and last
``offset`` gets the same id, rooms and data, ``socket.recovered`` is True, and every
packet meant for it since that offset is replayed, in order, once, carrying its offset
(so the client's offset advances).

Beyond the reference: a client that received no broadcast yet (and so has no offset) is
still recovered, from the point it connected; and :meth:`Recovery.shutdown` can spread the
disconnections of a graceful shutdown over time so a rolling restart causes no storm.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiosio.adapters.base import Adapter, RecoveryLimits, Session
from aiosio.exceptions import ClusterError
from aiosio.server.socket import Socket
from aiosio.socketio.packets import EVENT, Packet

if TYPE_CHECKING:
    from aiosio.server.connection import Connection
    from aiosio.server.namespace import Namespace
    from aiosio.server.server import BaseServer as Server

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


class Recovery:
    """Connection state recovery of one server: what its sockets are between the
    adapter's sessions and their CONNECT (the adapter keeps the rest)."""

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
        self.skip_middlewares = skip_middlewares
        self.shutdown_spread = shutdown_spread
        # For what the adapter keeps; max_age is also how long a session is kept.
        self.limits = RecoveryLimits(max_disconnection_duration, max_packets, max_bytes)
        self._first_offset: dict[str, str | None] = {}  # pid -> where a connected socket joined
        self._restored: dict[str, Session] = {}  # socket id -> session restored by the adapter
        self._rooms: dict[str, list[str]] = {}  # socket id -> rooms to join again

    def attach(self, adapter: Adapter, previous: Adapter | None = None) -> None:
        """Turn recovery on in a namespace's new adapter (which replaces ``previous``)."""
        adapter.enable_recovery(self.limits, previous)

    # -- sessions -----------------------------------------------------------------------

    def closing(self, socket: Socket, reason: str) -> None:
        """Keep the session of a socket lost for a recoverable reason."""
        pid = socket.pid
        if pid is None:
            return
        adapter = socket.nsp.adapter
        first = self._first_offset.pop(pid, None)
        if reason in RECOVERABLE_REASONS:
            session = Session(socket.id, pid, sorted(socket.rooms), socket.data, first)
            adapter.persist_session(session, self.limits.max_age)

    def restore(
        self, namespace: Namespace, conn: Connection, auth: dict[str, Any]
    ) -> Awaitable[Socket | None] | None:
        """The recovered socket for a CONNECT with a valid ``pid`` (and offset), once the
        adapter answered; None at once for a CONNECT that asks for no session."""
        pid = auth.get("pid")
        offset = auth.get("offset")
        if (
            not isinstance(pid, str)
            or not (offset is None or isinstance(offset, str))
            or not namespace.adapter.supports_recovery
        ):
            return None
        return self._restore(namespace, conn, auth, pid, offset)

    async def _restore(
        self,
        namespace: Namespace,
        conn: Connection,
        auth: dict[str, Any],
        pid: str,
        offset: str | None,
    ) -> Socket | None:
        try:
            session = await namespace.adapter.restore_session(pid, offset)
        except ClusterError as exc:
            logger.warning("session %s not restored: %s", pid, exc)
            return None
        if session is None or session.sid in namespace.sockets:
            return None
        socket = namespace.socket_class(namespace, conn, auth, sid=session.sid)
        socket.pid = pid
        socket.data = session.data
        socket.recovered = True
        self._restored[socket.id] = session
        self._rooms[socket.id] = [room for room in session.rooms if room != session.sid]
        return socket

    def connecting(self, socket: Socket) -> None:
        """Before the CONNECT ack: a pid for a new socket, the rooms of a recovered one."""
        if socket.recovered:
            socket.join(self._rooms.pop(socket.id, ()))
            return
        adapter = socket.nsp.adapter
        if adapter.supports_recovery:
            socket.pid = secrets.token_urlsafe(16)
            self._first_offset[socket.pid] = adapter.recovery_offset()

    def connected(self, socket: Socket) -> None:
        """After the CONNECT ack: replay what a recovered socket missed, in order."""
        adapter = socket.nsp.adapter
        if socket.recovered:
            self._first_offset[socket.pid or ""] = adapter.recovery_offset()
        session = self._restored.pop(socket.id, None)
        missed = adapter.missed_packets(session) if session is not None else []
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
