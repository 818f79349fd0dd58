"""Presence of one namespace: who is in each room, its diffs, and where they go.

The namespace's membership changes feed a :class:`~aiosio.presence.table.PresenceTable`
(a socket counts for its ``socket.user``, or for its own id when it has none). At most
once per ``interval`` one timer for the whole namespace flushes the table: each room that
changed gets one diff, given to the namespace's ``presence`` handlers as
``(room, joined, left)`` and, with ``event``, broadcast to the room's members as
``{"room", "joined", "left"}``. With a store, the diffs are first reconciled with the other
servers' (see :mod:`aiosio.presence.store`): handlers run on the server where the change
was seen, once for the cluster, and the broadcast reaches every member on every server.
Off (``presence=None``, the default) none of this exists and membership costs nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiosio.exceptions import ClusterError
from aiosio.presence.store import PresenceStore
from aiosio.presence.table import DEFAULT_MAX_INFO, Diff, Member, PresenceTable, check_info
from aiosio.server.users import is_user_room
from aiosio.socketio.packets import RESERVED_EVENTS

if TYPE_CHECKING:
    from aiosio.server.namespace import Namespace
    from aiosio.server.socket import Socket

__all__ = ["Presence", "PresenceSettings"]

logger = logging.getLogger("aiosio.presence")

PRESENCE = "presence"
"""The namespace event of the diffs: ``nsp.on("presence", handler(room, joined, left))``."""


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """``Server(presence=...)``: at most one diff per room every ``interval`` seconds;
    ``event``, when given, is broadcast to a room's members with each of its diffs;
    ``max_info`` bounds a socket's ``presence_info`` (bytes of JSON); ``store`` shares
    presence across a cluster."""

    interval: float = 1.0
    event: str | None = None
    max_info: int = DEFAULT_MAX_INFO
    store: PresenceStore | None = None

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError(f"presence interval must be positive, not {self.interval}")
        if self.event is not None and self.event in RESERVED_EVENTS:
            raise ValueError(f"{self.event!r} is a reserved event name")
        if self.max_info < 2:
            raise ValueError(f"max_info must be at least 2 bytes, not {self.max_info}")

    @classmethod
    def of(
        cls, value: PresenceSettings | Mapping[str, Any] | bool | None
    ) -> PresenceSettings | None:
        """The settings of the server option (True: the defaults; None or False: off)."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, PresenceSettings):
            return value
        return cls(**dict(value))


class Presence:
    """The presence of one namespace on this server."""

    def __init__(self, nsp: Namespace, settings: PresenceSettings) -> None:
        self.nsp = nsp
        self.settings = settings
        self.table = PresenceTable()
        self._timer: asyncio.TimerHandle | None = None
        self._watching = False
        # Membership, as the adapter reports it (local sockets only).
        nsp.on("join-room", self._joined)
        nsp.on("leave-room", self._left)

    def user_of(self, sid: str) -> str | None:
        """The user ``sid`` counts for; None for its own room or a user's room."""
        socket = self.nsp.sockets.get(sid)
        if socket is None:
            return None
        extras = socket.extras
        return extras.user if extras is not None and extras.user is not None else sid

    def _joined(self, room: str, sid: str) -> None:
        if room == sid or is_user_room(room):
            return
        user = self.user_of(sid)
        if user is None:
            return
        first = not self.table.in_a_room(user)
        if self.table.join(room, user):
            if first:  # the info of a user who was in no room: from the socket
                extras = self.nsp.sockets[sid].extras
                if extras is not None and extras.presence_info is not None:
                    self.table.set_info(user, extras.presence_info)
            self._schedule()

    def _left(self, room: str, sid: str) -> None:
        if room == sid or is_user_room(room):
            return
        user = self.user_of(sid)
        if user is not None and self.table.leave(room, user):
            self._schedule()

    def user_changed(self, socket: Socket, old: str | None, new: str | None) -> None:
        """``socket.user`` changed while connected: it counts for the new user now."""
        before, after = old or socket.id, new or socket.id
        extras = socket.extras
        for room in socket.rooms:
            if room == socket.id or is_user_room(room):
                continue
            self.table.leave(room, before)
            self.table.join(room, after)
            if extras is not None and extras.presence_info is not None:
                self.table.set_info(after, extras.presence_info)
        self._schedule()

    def set_info(self, socket: Socket, info: Any) -> Any:
        """Check ``info`` against ``max_info`` and show it for the socket's user.

        Raises:
            ValueError: When it is too large or not JSON.
        """
        if info is not None:
            check_info(info, self.settings.max_info)
        extras = socket.extras
        user = extras.user if extras is not None and extras.user is not None else socket.id
        self.table.set_info(user, info)
        return info

    # -- flushing -----------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._timer is None and self.table.dirty:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.settings.interval, self.flush)

    def flush(self) -> None:
        """Send the diffs of the rooms that changed since the last flush (the timer
        calls it; a test may call it to skip the wait)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        diffs = self.table.flush()
        recounts = self.table.take_recounts()
        store = self.settings.store
        if store is None:
            if diffs:
                self.publish(diffs)
            return
        if not diffs and not recounts:
            return
        if not self._watching:
            self._watching = True
            store.watch(self._dead_server)
        self.nsp.server.spawn(self._apply(store, diffs, recounts))

    async def _apply(
        self,
        store: PresenceStore,
        diffs: list[Diff],
        recounts: dict[str, dict[str, int]] | None = None,
    ) -> None:
        try:
            if recounts:
                await store.recount(self.nsp.name, recounts)
            cluster = await store.apply(self.nsp.name, diffs) if diffs else []
        except ClusterError as exc:  # closed with the server, or unreachable
            logger.info("presence store: %s; the diffs stay local", exc)
            cluster = diffs
        except Exception as exc:
            logger.warning("presence store unreachable, diffs stay local: %s", exc)
            cluster = diffs
        if cluster:
            self.publish(cluster)

    def _dead_server(self, namespace: str, diffs: list[Diff]) -> None:
        if namespace == self.nsp.name:
            self.publish(diffs)

    def publish(self, diffs: list[Diff]) -> None:
        """Give each diff to the ``presence`` handlers and, with ``event``, to the room."""
        event = self.settings.event
        for diff in diffs:
            self.nsp.emit_local_event(PRESENCE, diff.room, diff.joined, diff.left)
            if event is not None:
                payload = {"room": diff.room, "joined": diff.joined, "left": diff.left}
                self.nsp.to(diff.room).emit(event, payload)

    # -- reading ------------------------------------------------------------------------

    async def members(self, room: str) -> list[Member]:
        store = self.settings.store
        if store is None:
            return self.table.members(room)
        return await store.members(self.nsp.name, room)

    async def count_users(self, room: str) -> int:
        if self.settings.store is None:
            return self.table.count_users(room)
        return len(await self.members(room))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
