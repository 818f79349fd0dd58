"""PresenceStore: where presence is kept across the servers of a cluster.

Without a store each server knows its own sockets only. With one (the Redis store of
:mod:`aiosio.adapters.redis.presence`), every server writes the changes of its flushes
there and gets back the diffs of the whole cluster: a user with a tab on each of two
servers joins once and leaves when its last tab anywhere closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiosio.presence.table import Diff, Member

__all__ = ["DeadServerDiffs", "HistoryStore", "PresenceStore"]

DeadServerDiffs = Callable[[str, list[Diff]], None]
"""Called with a namespace and the diffs of its rooms when a dead server's users left."""


class PresenceStore(Protocol):
    """Presence shared by the servers of a cluster (one store per server)."""

    async def apply(self, namespace: str, diffs: list[Diff]) -> list[Diff]:
        """Record this server's diffs (users whose first socket here joined a room, or
        whose last one left); return what changed for the whole cluster."""

    async def recount(self, namespace: str, counts: dict[str, dict[str, int]]) -> None:
        """This server's new socket counts of users who stayed in rooms (by room)."""

    async def members(self, namespace: str, room: str) -> list[Member]:
        """The users in ``room`` on every live server, sockets counted across them."""

    def watch(self, callback: DeadServerDiffs) -> None:
        """Report the users of servers that stopped beating (each leave reported by one
        surviving server only)."""

    def reopen(self) -> None:
        """The server starts (again): take writes from now on."""

    async def close(self) -> None:
        """Withdraw this server's users and stop beating; until :meth:`reopen`, writes
        and reads fail (a flush still running as the server closes must not connect
        again)."""


class HistoryStore(Protocol):
    """Where room histories are kept beyond one server's memory (the Redis one is
    :class:`aiosio.adapters.redis.history.RedisHistory`)."""

    def append(
        self, namespace: str, room: str, data: list[Any], max_len: int, ttl: float | None
    ) -> None:
        """Keep one event broadcast from this server (queued: it must not block)."""

    async def load(
        self, namespace: str, room: str, max_len: int, ttl: float | None
    ) -> list[tuple[float, list[Any]]]:
        """The kept events of a room, oldest first, each with its age in seconds."""

    def reopen(self) -> None:
        """The server starts (again): take events from now on."""

    async def close(self) -> None:
        """Write what is queued and disconnect; until :meth:`reopen`, events are dropped."""
