"""Emitter: reach the sockets of a Redis cluster from any Python process (not a server).

Compatible with ``@socket.io/redis-emitter`` (and with ``createShardedAdapter`` clusters with
``sharded=True``)::

    async with Emitter("redis://127.0.0.1:6379") as emitter:
        emitter.to("room-1").emit("news", {"id": 1})
        emitter.of("/admin").except_("muted").emit("notice", b"\x00")
        emitter.in_("room-1").sockets_join("room-2")
        emitter.server_side_emit("reload")          # to the servers' namespace handlers

Operations queue and never await; they are published in order by one task, and
:meth:`Emitter.flush` (or leaving the ``async with`` block) waits until Redis has them.
"""

from __future__ import annotations

import functools
from typing import Any

from aiosio.adapters.cluster import ClusterMessage, MessageType
from aiosio.adapters.codec import encode_message
from aiosio.adapters.emitting import EMITTER_UID, BatchPublisher, EmitterBase, EmitterOperator
from aiosio.adapters.redis import topology
from aiosio.adapters.redis.link import RedisError, connect, publish_all, run_pipeline
from aiosio.adapters.redis.wire import ClassicChannels, encode_classic

__all__ = ["Emitter", "EmitterOperator"]


class _Publisher(BatchPublisher[tuple[str, bytes, bool]]):
    """One Redis client and an ordered queue of ``(channel, payload, sharded)``."""

    backend = "Redis"
    errors = (RedisError, OSError)

    def __init__(self, url: str, *, cluster: bool = False) -> None:
        super().__init__()
        self.client = connect(url, cluster=cluster)

    async def publish(self, batch: list[tuple[str, bytes, bool]]) -> None:
        # once more on a fresh connection after a Redis restart
        await run_pipeline(self.client, functools.partial(publish_all, batch=batch))

    async def disconnect(self) -> None:
        await topology.close(self.client)


class Emitter(EmitterBase):
    """Publishes to the sockets of a cluster of servers sharing a Redis.

    For a process that is not a Socket.IO server (a worker, a script): what it emits reaches
    the servers' sockets through their Redis adapter.

    Args:
        url: The Redis server the cluster uses.
        key: The servers' channel prefix (their adapter's ``key``).
        namespace: The namespace emitted to; :meth:`of` gives the others.
        sharded: Speak the sharded adapter's format (``SPUBLISH``), as the servers do.
        cluster: ``url`` names a Redis Cluster.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        namespace: str = "/",
        sharded: bool = False,
        cluster: bool = False,
    ) -> None:
        super().__init__(namespace, _Publisher(url, cluster=cluster))
        self.url = url
        self.key = key
        self.sharded = sharded
        self.cluster = cluster

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message in this emitter's format.

        Args:
            type: The message type (a broadcast, a join, a disconnection...).
            data: Its payload, as the adapters read it.
        """
        message = ClusterMessage(type, EMITTER_UID, self.namespace, data)
        if not self.sharded:
            channel, payload = encode_classic(message, ClassicChannels(self.key, self.namespace))
            self._publisher.put((channel, payload, False))
            return
        channel = f"{self.key}#{self.namespace}#"
        rooms = data.get("opts", {}).get("rooms", [])
        if type is MessageType.BROADCAST and len(rooms) == 1 and len(rooms[0]) != 20:
            channel += f"{rooms[0]}#"  # the per-room channel of the "dynamic" mode
        self._publisher.put((channel, encode_message(message), True))
