"""Room history of one namespace: ``nsp.history("room", max_len=100, ttl=3600)``.

The adapter hands every broadcast it delivers on this server (sent here or by another
server of the cluster) to :meth:`Histories.record`, which keeps the EVENTs addressed to a
room with a history in that room's :class:`~aiosio.presence.history.RoomLog`. With
connection state recovery on, what is kept is the packet as delivered, its offset
appended, so a replayed event moves the client's offset as a live one does.

``socket.join("room", rewind=20)`` replays the last 20 kept events to the socket and joins
it in the same step: nothing runs between the replay and the join, so the live events
follow the replay with no gap and no duplicate. In a cluster, each server keeps the events
it delivers, in the order it delivers them (with the Redis streams adapter, the stream's
order); the log's epoch and first kept offset tell a client what was trimmed.
Namespaces without a history pay nothing: the adapter's recorder stays None. A room with
a history has a member that is no socket (:data:`KEEPER`), so that a cluster adapter
delivers its broadcasts here, and the history keeps them, before anyone joins.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiosio.adapters.base import Adapter, BroadcastOptions
from aiosio.presence.history import Replay, RoomLog
from aiosio.presence.store import HistoryStore
from aiosio.socketio.packets import EVENT, Packet

if TYPE_CHECKING:
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import Socket

__all__ = ["MAX_REWIND", "Histories"]

logger = logging.getLogger("aiosio.history")

MAX_REWIND = 10_000
"""The most events one rewind may ask for (a larger ``max_len`` is refused too)."""

KEEPER = "aiosio:history"
"""A member of every room with a history that is no socket: a cluster adapter drops the
broadcasts to rooms without local members (as the Node adapters do), and a server with
nobody in the room yet must still keep what is said there. Never a recipient: only
connected sockets are."""


class Histories:
    """The room logs of one namespace on this server."""

    def __init__(self, nsp: Namespace) -> None:
        self.nsp = nsp
        self.logs: dict[str, RoomLog] = {}
        self.stores: dict[str, HistoryStore] = {}
        settings = nsp.server.presence_settings
        self.skipped = None if settings is None else settings.event  # presence pushes

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def configure(
        self, room: str, max_len: int, ttl: float | None, store: HistoryStore | None = None
    ) -> RoomLog:
        """Keep the last ``max_len`` events of ``room`` for ``ttl`` seconds (None: no age
        limit), also in ``store`` when given; a room configured again keeps what it has,
        within the new bounds."""
        if not isinstance(room, str) or not room:
            raise ValueError("a history needs a room name")
        if not 1 <= max_len <= MAX_REWIND:
            raise ValueError(f"max_len must be 1 to {MAX_REWIND}, not {max_len}")
        old = self.logs.get(room)
        log = RoomLog(room, max_len, ttl, epoch=None if old is None else old.epoch)
        if old is not None:
            log.adopt(old)
        self.logs[room] = log
        if store is not None:
            self.stores[room] = store
        self.attach(self.nsp.adapter)
        if self.nsp.server.accepting:
            self.keep_rooms()  # else when the server starts (a member starts an adapter)
        return log

    def keep_rooms(self) -> None:
        """Make :data:`KEEPER` a member of every room with a history."""
        adapter = self.nsp.adapter
        kept = adapter.socket_rooms(KEEPER) or set()
        missing = [room for room in self.logs if room not in kept]
        if missing:
            adapter.add_all(KEEPER, missing)

    def remove(self, room: str) -> None:
        self.logs.pop(room, None)
        self.stores.pop(room, None)
        self.nsp.adapter.delete(KEEPER, room)
        self.attach(self.nsp.adapter)

    def attach(self, adapter: Adapter) -> None:
        """Hook this namespace's histories on ``adapter`` (a new one replaces the old when
        the server restarts): the recorder of every local delivery, and with a store, the
        start of each broadcast, where it is written to the store once for the cluster."""
        adapter.recorder = self.record if self.logs else None
        if not self.stores or "broadcast" in vars(adapter):
            return
        original = adapter.broadcast

        def broadcast(packet: Packet, options: BroadcastOptions) -> None:
            self.persist(packet, options)
            original(packet, options)

        adapter.broadcast = broadcast  # type: ignore[method-assign]

    def persist(self, packet: Packet, options: BroadcastOptions) -> None:
        """Write a broadcast starting on this server to the stores of its rooms."""
        if packet.type is not EVENT or options.flags.volatile or not packet.data:
            return
        if packet.data[0] == self.skipped:
            return
        for room in options.rooms:
            store = self.stores.get(room)
            if store is not None:
                log = self.logs[room]
                store.append(self.nsp.name, room, list(packet.data), log.max_len, log.ttl)

    async def load(self) -> None:
        """The server starts: keep the rooms, and seed the logs of rooms with a store."""
        self.keep_rooms()
        for store in set(self.stores.values()):
            store.reopen()
        for room, store in list(self.stores.items()):
            log = self.logs[room]
            try:
                events = await store.load(self.nsp.name, room, log.max_len, log.ttl)
            except Exception as exc:  # a store that cannot be read: start empty
                logger.warning("history of %r not loaded: %s", room, exc)
                continue
            log.seed(events, self._now())

    async def close(self) -> None:
        for store in set(self.stores.values()):
            await store.close()

    def record(self, packet: Packet, options: BroadcastOptions) -> None:
        """Keep a delivered broadcast in the logs of its rooms (EVENTs, not volatile, and
        not the presence diffs: a newcomer's rewind must not replay stale ones)."""
        if packet.type is not EVENT or options.flags.volatile or not packet.data:
            return
        if packet.data[0] == self.skipped:
            return
        logs = self.logs
        now: float | None = None
        for room in options.rooms:
            log = logs.get(room)
            if log is not None:
                if now is None:
                    now = self._now()
                log.append(packet.data, now)

    def rewind(self, socket: Socket, room: str, count: Any) -> Replay:
        """Write the last ``count`` events of ``room`` to ``socket`` (the caller joins it
        at once after).

        Raises:
            ValueError: When ``count`` is not a positive integer within :data:`MAX_REWIND`,
                or ``room`` has no history.
        """
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_REWIND:
            raise ValueError(f"rewind must be an integer from 1 to {MAX_REWIND}, not {count!r}")
        log = self.logs.get(room)
        if log is None:
            raise ValueError(f"room {room!r} has no history: configure nsp.history({room!r})")
        replay = log.last(count, self._now())
        name = self.nsp.name
        for data in replay.events:
            socket.write_packet(Packet(EVENT, name, data))
        return replay
