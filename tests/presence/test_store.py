"""The PresenceStore contract, as the server uses it: two servers sharing one store see
one user with a tab on each as one member, and the diffs are the cluster's (the Redis
store, tested on a real Redis in tests/adapters/redis/test_presence.py, is the one
shipped; this one keeps the shared table in the process)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosio
import aiosio.testing
from aiosio.presence.store import DeadServerDiffs, PresenceStore
from aiosio.presence.table import Diff, Member, PresenceTable
from tests.support.waits import within


class SharedTable:
    """Presence shared in the process: a table counting servers per user."""

    def __init__(self) -> None:
        self.table = PresenceTable()

    def store(self) -> PresenceStore:
        shared = self

        class Store:
            async def apply(self, namespace: str, diffs: list[Diff]) -> list[Diff]:
                for diff in diffs:
                    for member in diff.joined:
                        shared.table.set_info(member["user"], member["info"])
                        shared.table.join(diff.room, member["user"])
                    for user in diff.left:
                        shared.table.leave(diff.room, user)
                return shared.table.flush()

            async def recount(self, namespace: str, counts: dict[str, dict[str, int]]) -> None:
                pass

            async def members(self, namespace: str, room: str) -> list[Member]:
                return shared.table.members(room)

            def watch(self, callback: DeadServerDiffs) -> None:
                pass

            def reopen(self) -> None:
                pass

            async def close(self) -> None:
                pass

        return Store()


async def test_a_user_on_two_servers_joins_once_and_leaves_once() -> None:
    shared = SharedTable()
    servers = [aiosio.Server(presence={"interval": 60, "store": shared.store()}) for _ in range(2)]
    diffs: list[Any] = []
    changed = asyncio.Event()
    for io in servers:
        io.on("connection", lambda socket: socket.join("room"))
        io.use(lambda socket: setattr(socket, "user", "ann"))
        io.sockets.on(
            "presence", lambda room, joined, left: (diffs.append((joined, left)), changed.set())
        )
    async with aiosio.testing.serve(servers[0]) as one, aiosio.testing.serve(servers[1]) as two:
        first = await one.connect()
        await two.connect()
        for io in servers:
            assert io.sockets.presence is not None
            io.sockets.presence.flush()
        await within(changed.wait())
        members = await servers[1].in_("room").presence()
        assert [m["user"] for m in members] == ["ann"]
        assert diffs == [([{"user": "ann", "sockets": 1, "info": None}], [])]
        changed.clear()
        left = asyncio.Event()
        servers[0].sockets.on("leave-room", lambda room, sid: left.set())
        await first.disconnect()
        await within(left.wait())
        presence = servers[0].sockets.presence
        assert presence is not None
        presence.flush()  # ann's first server has no tab left, the second still has one
        await asyncio.sleep(0)
        assert len(diffs) == 1
