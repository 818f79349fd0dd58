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

import asyncio
import contextlib
import functools
import logging
from typing import Any

from aiosio.adapters.cluster import ClusterMessage, MessageType
from aiosio.adapters.codec import encode_message
from aiosio.adapters.emitting import EMITTER_UID, EmitterBase, EmitterOperator
from aiosio.adapters.redis import topology
from aiosio.adapters.redis.link import RedisError, connect, publish_all, run_pipeline
from aiosio.adapters.redis.wire import ClassicChannels, encode_classic

__all__ = ["Emitter", "EmitterOperator"]

logger = logging.getLogger("aiosio.emitter")


class _Publisher:
    """One Redis client and an ordered queue of ``(channel, payload, sharded)``."""

    def __init__(self, url: str, *, cluster: bool = False) -> None:
        self.client = connect(url, cluster=cluster)
        self.queue: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def send(self, channel: str, payload: bytes, sharded: bool) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        self.queue.put_nowait((channel, payload, sharded))

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:  # once more on a fresh connection after a Redis restart
                await run_pipeline(self.client, functools.partial(publish_all, batch=batch))
            except (RedisError, OSError) as exc:
                logger.warning("dropped %d messages to Redis: %s", len(batch), exc)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await topology.close(self.client)


class Emitter(EmitterBase):
    """Publishes to the sockets of a cluster of servers sharing a Redis."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        namespace: str = "/",
        sharded: bool = False,
        cluster: bool = False,
        _publisher: _Publisher | None = None,
    ) -> None:
        self.url = url
        self.key = key
        self.namespace = namespace if namespace.startswith("/") else "/" + namespace
        self.sharded = sharded
        self.cluster = cluster
        self._publisher = _publisher or _Publisher(url, cluster=cluster)

    def of(self, namespace: str) -> Emitter:
        """The same emitter for another namespace."""
        return Emitter(
            self.url,
            key=self.key,
            namespace=namespace,
            sharded=self.sharded,
            cluster=self.cluster,
            _publisher=self._publisher,
        )

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message in this emitter's format."""
        message = ClusterMessage(type, EMITTER_UID, self.namespace, data)
        if not self.sharded:
            channel, payload = encode_classic(message, ClassicChannels(self.key, self.namespace))
            self._publisher.send(channel, payload, False)
            return
        channel = f"{self.key}#{self.namespace}#"
        rooms = data.get("opts", {}).get("rooms", [])
        if type is MessageType.BROADCAST and len(rooms) == 1 and len(rooms[0]) != 20:
            channel += f"{rooms[0]}#"  # the per-room channel of the "dynamic" mode
        self._publisher.send(channel, encode_message(message), True)

    async def flush(self) -> None:
        """Wait until everything queued so far reached Redis."""
        await self._publisher.queue.join()

    async def close(self) -> None:
        """Close the emitter's Redis connection."""
        await self._publisher.close()
