"""PresenceStore: where presence is kept across the servers of a cluster.

Without a store each server knows its own sockets only. With one (the Redis store of
:mod:`aiosio.adapters.redis.presence`), every server writes the changes of its flushes
there and gets back the diffs of the whole cluster: a user with a tab on each of two
servers joins once and leaves when its last tab anywhere closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiosio.presence.table import Diff, Member

__all__ = ["DeadServerDiffs", "PresenceStore"]

DeadServerDiffs = Callable[[str, list[Diff]], None]
"""Called with a namespace and the diffs of its rooms when a dead server's users left."""


class PresenceStore(Protocol):
    """Presence shared by the servers of a cluster (one store per server)."""

    async def apply(self, namespace: str, diffs: list[Diff]) -> list[Diff]:
        """Record this server's diffs (users whose first socket here joined a room, or
        whose last one left); return what changed for the whole cluster."""

    async def members(self, namespace: str, room: str) -> list[Member]:
        """The users in ``room`` on every live server, sockets counted across them."""

    def watch(self, callback: DeadServerDiffs) -> None:
        """Report the users of servers that stopped beating (each leave reported by one
        surviving server only)."""

    async def close(self) -> None:
        """Withdraw this server's users and stop beating."""
