"""RedisPresence: presence shared by the servers of a cluster, in Redis structures.

::

    io = aiosio.Server(adapter=..., presence={"store": RedisPresence(url)})

Each server writes, at each flush, the users whose first socket on it joined a room or
whose last one left (one Lua script per room: atomic, so two servers never both report a
user's arrival). Per room, a hash maps ``<server>|<user>`` to the user's info and socket
count on that server, and a second hash counts the servers each user is on: the cluster
diff is a count leaving 0 or coming back to it.

Every server beats: a key ``alive:<server>`` that expires after ``2 x heartbeat``. A
server whose key is gone is dead: readers skip its fields at once, and the first live
server to notice (its next beat) removes them in one script that only one server can run
per dead server, reporting the users who left. So a killed server's users leave within
``2 x heartbeat`` (plus one beat for the diffs). Works beside any adapter (the pub/sub
one, the streams one, or none).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import defaultdict
from typing import Any

from aiosio.adapters.redis.link import RedisError, connect
from aiosio.exceptions import ClusterError
from aiosio.presence.store import DeadServerDiffs
from aiosio.presence.table import Diff, Member

__all__ = ["RedisPresence"]

logger = logging.getLogger("aiosio.redis.presence")

_APPLY = """
local sid, tag, nj = ARGV[1], ARGV[2], tonumber(ARGV[3])
local joined, left = {}, {}
redis.call('SADD', KEYS[3], tag)
local i = 4
for n = 1, nj do
  local user, value = ARGV[i], ARGV[i + 1]
  i = i + 2
  if redis.call('HSET', KEYS[1], sid .. '|' .. user, value) == 1 then
    if redis.call('HINCRBY', KEYS[2], user, 1) == 1 then table.insert(joined, user) end
  end
end
while i <= #ARGV do
  local user = ARGV[i]
  i = i + 1
  if redis.call('HDEL', KEYS[1], sid .. '|' .. user) == 1 then
    if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
      redis.call('HDEL', KEYS[2], user)
      table.insert(left, user)
    end
  end
end
return {joined, left}
"""

_RECOUNT = """
for i = 2, #ARGV, 2 do
  local field = ARGV[1] .. '|' .. ARGV[i + 1]
  local value = redis.call('HGET', KEYS[1], field)
  if value then
    local colon = string.find(value, ':', 1, true)
    redis.call('HSET', KEYS[1], field, ARGV[i] .. string.sub(value, colon))
  end
end
return 0
"""

_BURY = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return {} end
local out = {}
local prefix = ARGV[2]
local mine = ARGV[1] .. '|'
for _, tag in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local hash = prefix .. tag .. ':s'
  local users = prefix .. tag .. ':u'
  for _, field in ipairs(redis.call('HKEYS', hash)) do
    if string.sub(field, 1, #mine) == mine then
      redis.call('HDEL', hash, field)
      local user = string.sub(field, #mine + 1)
      if redis.call('HINCRBY', users, user, -1) <= 0 then
        redis.call('HDEL', users, user)
        table.insert(out, tag)
        table.insert(out, user)
      end
    end
  end
end
redis.call('DEL', KEYS[2])
return out
"""


class RedisPresence:
    """A :class:`~aiosio.presence.store.PresenceStore` in Redis, for one server."""

    def __init__(
        self, url: str = "redis://127.0.0.1:6379", *, key: str = "aiosio", heartbeat: float = 5.0
    ) -> None:
        if heartbeat <= 0:
            raise ValueError(f"heartbeat must be positive, not {heartbeat}")
        self.url = url
        self.heartbeat = heartbeat
        self.server_id = secrets.token_hex(8)
        self.prefix = f"{key}:presence:"
        self._client: Any = None
        self._beat: asyncio.Task[None] | None = None
        self._watchers: list[DeadServerDiffs] = []
        self._closed = False

    def _tag(self, namespace: str, room: str) -> str:
        return f"{namespace}#{room}"

    def _alive(self, server: str) -> str:
        return f"{self.prefix}alive:{server}"

    async def _ready(self) -> Any:
        if self._closed:
            raise ClusterError("the presence store is closed")
        if self._client is None:
            self._client = connect(self.url)
            await self._announce()
            self._beat = asyncio.get_running_loop().create_task(self._beating())
        return self._client

    async def _announce(self) -> None:
        ttl = max(1, round(self.heartbeat * 2000))
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.set(self._alive(self.server_id), b"1", px=ttl)
            pipe.sadd(f"{self.prefix}servers", self.server_id)
            await pipe.execute()

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._announce()
                await self._bury_the_dead()
            except (RedisError, OSError) as exc:
                logger.warning("presence heartbeat failed: %s", exc)

    async def _bury_the_dead(self) -> None:
        client = self._client
        servers = [s.decode() for s in await client.smembers(f"{self.prefix}servers")]
        others = [s for s in servers if s != self.server_id]
        if not others:
            return
        alive = await client.mget([self._alive(s) for s in others])
        for server, beat in zip(others, alive, strict=True):
            if beat is not None:
                continue
            keys = [f"{self.prefix}servers", f"{self.prefix}rooms:{server}"]
            out = await client.eval(_BURY, 2, *keys, server, self.prefix)
            self._report_dead([item.decode() for item in out])

    def _report_dead(self, flat: list[str]) -> None:
        left: dict[str, list[str]] = defaultdict(list)
        for tag, user in zip(flat[::2], flat[1::2], strict=True):
            left[tag].append(user)
        by_namespace: dict[str, list[Diff]] = defaultdict(list)
        for tag, users in left.items():
            namespace, _, room = tag.partition("#")
            by_namespace[namespace].append(Diff(room, [], users))
        for namespace, diffs in by_namespace.items():
            for watcher in list(self._watchers):
                watcher(namespace, diffs)

    # -- the store ----------------------------------------------------------------------

    def watch(self, callback: DeadServerDiffs) -> None:
        self._watchers.append(callback)

    async def apply(self, namespace: str, diffs: list[Diff]) -> list[Diff]:
        client = await self._ready()
        out: list[Diff] = []
        for diff in diffs:
            tag = self._tag(namespace, diff.room)
            keys = [f"{self.prefix}{tag}:s", f"{self.prefix}{tag}:u"]
            keys.append(f"{self.prefix}rooms:{self.server_id}")
            args: list[Any] = [self.server_id, tag, len(diff.joined)]
            infos: dict[str, Member] = {}
            for member in diff.joined:
                infos[member["user"]] = member
                value = f"{member['sockets']}:{json.dumps(member['info'])}"
                args.extend((member["user"], value))
            args.extend(diff.left)
            joined, left = await client.eval(_APPLY, 3, *keys, *args)
            members = [infos[user.decode()] for user in joined]
            if members or left:
                out.append(Diff(diff.room, members, [user.decode() for user in left]))
        return out

    async def recount(self, namespace: str, counts: dict[str, dict[str, int]]) -> None:
        client = await self._ready()
        for room, users in counts.items():
            key = f"{self.prefix}{self._tag(namespace, room)}:s"
            args: list[Any] = []
            for user, sockets in users.items():
                args.extend((sockets, user))
            # ARGV: the server, then (count, user) pairs; a field not there is left alone
            await client.eval(_RECOUNT, 1, key, self.server_id, *args)

    async def members(self, namespace: str, room: str) -> list[Member]:
        client = await self._ready()
        fields = await client.hgetall(f"{self.prefix}{self._tag(namespace, room)}:s")
        per_server: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for field, value in fields.items():
            server, _, user = field.decode().partition("|")
            count, _, info = value.decode().partition(":")
            per_server[server].append((user, (int(count), json.loads(info))))
        servers = sorted(per_server)
        alive = await client.mget([self._alive(s) for s in servers]) if servers else []
        found: dict[str, Member] = {}
        for server, beat in zip(servers, alive, strict=True):
            if beat is None:
                continue  # a dead server's users are gone, even before they are buried
            for user, (sockets, info) in per_server[server]:
                member = found.get(user)
                if member is None:
                    found[user] = Member(user=user, sockets=sockets, info=info)
                else:
                    member["sockets"] += sockets
        return [found[user] for user in sorted(found)]

    def reopen(self) -> None:
        self._closed = False

    async def close(self) -> None:
        """Stop beating and withdraw this server (its users leave the other servers' view
        at once; the next beat of another server reports them)."""
        self._closed = True
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RedisError, OSError):
                await client.delete(self._alive(self.server_id))
            await client.aclose()
