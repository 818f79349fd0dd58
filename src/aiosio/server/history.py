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
Namespaces without a history pay nothing: the adapter's recorder stays None.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiosio.adapters.base import BroadcastOptions
from aiosio.presence.history import Replay, RoomLog
from aiosio.socketio.packets import EVENT, Packet

if TYPE_CHECKING:
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import Socket

__all__ = ["MAX_REWIND", "Histories"]

MAX_REWIND = 10_000
"""The most events one rewind may ask for (a larger ``max_len`` is refused too)."""


class Histories:
    """The room logs of one namespace on this server."""

    def __init__(self, nsp: Namespace) -> None:
        self.nsp = nsp
        self.logs: dict[str, RoomLog] = {}

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def configure(self, room: str, max_len: int, ttl: float | None) -> RoomLog:
        """Keep the last ``max_len`` events of ``room`` for ``ttl`` seconds (None: no age
        limit); a room configured again keeps what it has, within the new bounds."""
        if not isinstance(room, str) or not room:
            raise ValueError("a history needs a room name")
        if not 1 <= max_len <= MAX_REWIND:
            raise ValueError(f"max_len must be 1 to {MAX_REWIND}, not {max_len}")
        old = self.logs.get(room)
        log = RoomLog(room, max_len, ttl, epoch=None if old is None else old.epoch)
        if old is not None:
            log.adopt(old)
        self.logs[room] = log
        self.nsp.adapter.recorder = self.record
        return log

    def remove(self, room: str) -> None:
        self.logs.pop(room, None)
        if not self.logs:
            self.nsp.adapter.recorder = None

    def record(self, packet: Packet, options: BroadcastOptions) -> None:
        """Keep a delivered broadcast in the logs of its rooms (EVENTs, not volatile)."""
        if packet.type is not EVENT or options.flags.volatile or not packet.data:
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
