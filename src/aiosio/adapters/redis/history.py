"""RedisHistory: room histories kept in Redis as well, for servers that start later.

::

    io.sockets.history("chat", max_len=100, ttl=3600, store=RedisHistory(url))

Each server keeps the events it delivers in memory (that is what rewinds read, so a
rewind and the live events that follow it come from one ordered source). With a store,
the server where a broadcast starts also appends it to a capped Redis list per room
(``RPUSH``, ``LTRIM`` to ``max_len``, ``PEXPIRE`` to ``ttl``), written in order by one
task in pipelines; and a server that starts loads the list into its memory before it
takes clients, so a newcomer to the cluster (or a restarted server) replays what was said
before it was there. Events that cannot be written as JSON (binary ones) stay in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from aiosio.adapters.redis.link import RedisError, connect
from aiosio.exceptions import ClusterError

__all__ = ["RedisHistory"]

logger = logging.getLogger("aiosio.redis.history")

MAX_QUEUE = 10_000
"""Events waiting to be written at most; beyond, the oldest are not written (logged)."""


class RedisHistory:
    """Capped lists of room events in Redis (one per namespace and room)."""

    def __init__(self, url: str = "redis://127.0.0.1:6379", *, key: str = "aiosio") -> None:
        self.url = url
        self.prefix = f"{key}:history:"
        self._client: Any = None
        self._queue: deque[tuple[str, bytes, int, float | None]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None  # set while nothing waits to be written
        self._dropped = 0
        self._closed = False

    def key(self, namespace: str, room: str) -> str:
        return f"{self.prefix}{namespace}#{room}"

    def _connected(self) -> Any:
        if self._closed:
            raise ClusterError("the history store is closed")
        if self._client is None:
            self._client = connect(self.url)
        return self._client

    def append(
        self, namespace: str, room: str, data: list[Any], max_len: int, ttl: float | None
    ) -> None:
        """Queue one event for the room's list (written in order, without blocking)."""
        if self._closed:
            return
        try:
            value = json.dumps({"t": time.time(), "d": data}, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            return  # binary or not JSON: kept in memory only
        if len(self._queue) >= MAX_QUEUE:
            self._queue.popleft()
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                logger.warning("room history: %d events not written to Redis", self._dropped)
        self._queue.append((self.key(namespace, room), value, max_len, ttl))
        if self._writer is None or self._writer.done():
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._write())
        else:
            assert self._wake is not None and self._idle is not None
            self._idle.clear()
            self._wake.set()

    async def _write(self) -> None:
        client = self._connected()
        while True:
            if not self._queue:
                assert self._wake is not None and self._idle is not None
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), 500))]
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for key, value, max_len, ttl in batch:
                        pipe.rpush(key, value)
                        pipe.ltrim(key, -max_len, -1)
                        if ttl is not None:
                            pipe.pexpire(key, max(1, round(ttl * 1000)))
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                logger.warning("room history: %d events not written to Redis: %s", len(batch), exc)

    async def load(
        self, namespace: str, room: str, max_len: int, ttl: float | None
    ) -> list[tuple[float, list[Any]]]:
        """The kept events of a room, oldest first, each with its age in seconds."""
        raw = await self._connected().lrange(self.key(namespace, room), -max_len, -1)
        now = time.time()
        found: list[tuple[float, list[Any]]] = []
        for item in raw:
            try:
                value = json.loads(item)
                age, data = now - float(value["t"]), value["d"]
            except (ValueError, TypeError, KeyError):
                continue  # not ours
            if isinstance(data, list) and data and (ttl is None or age <= ttl):
                found.append((max(0.0, age), data))
        return found

    def reopen(self) -> None:
        self._closed = False

    async def close(self) -> None:
        """Write what is queued (for a moment at most), then disconnect."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            if self._idle is not None and not writer.done():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2.0):
                        await self._idle.wait()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
