"""StreamLink: the Redis stream of a process, shared by the namespaces of a streams adapter.

One task writes, in order and in pipelines, what the adapters queue (``XADD ... MAXLEN ~``
and the ``SET`` of sessions); one task reads the stream (``XREAD BLOCK``, on a client of its
own) and hands each entry to the adapter of its namespace, keeping the reader's position,
which :class:`~aiosio.adapters.redis.streams.StreamsAdapter` uses to complete restores. A
:class:`~aiosio.adapters.redis.link.RedisLink` carries the pub/sub part.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError

from aiosio._tasks import wind_down
from aiosio.adapters.redis import link, topology
from aiosio.adapters.redis.entries import Offset, parse_offset
from aiosio.adapters.redis.link import LinkSettings, RedisLink, run_pipeline, write_in_order
from aiosio.exceptions import ClusterError, LocalProtocolError, RemoteProtocolError

__all__ = ["StreamLink", "StreamReader"]

logger = logging.getLogger("aiosio.streams")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class StreamReader(Protocol):
    """What the link needs of an adapter (a
    :class:`~aiosio.adapters.redis.streams.StreamsAdapter`): its namespace, the entries of that
    namespace, and a place to warn."""

    @property
    def namespace(self) -> _Named: ...

    def on_entry(self, entry_id: str, fields: dict[bytes, bytes]) -> None: ...

    def warn(self, kind: str, text: str, *args: Any) -> None: ...


@dataclass(slots=True)
class _Write:
    """One queued command: an XADD (``fields``), a SET (``key``, ``value``) or a DEL (a
    ``key`` without ``ttl_ms``)."""

    fields: dict[str, str] | None = None
    key: str = ""
    value: str = ""
    ttl_ms: int = 0
    on_error: Callable[[], None] | None = None


class StreamLink:
    """The stream of a factory: one ordered writer, one reader, and a pub/sub link."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        stream_name: str,
        max_len: int,
        read_count: int,
        block_time: float,
    ) -> None:
        self.settings = settings  # the pub/sub link's; the stream uses its url and max_outbox
        self.stream_name = stream_name
        self.max_len = max_len
        self.read_count = read_count
        self.block_time = block_time
        self.pubsub = RedisLink(settings)
        self.client: Any = None
        self._reader: Any = None
        self.adapters: dict[str, StreamReader] = {}
        self.last_id: str | None = None  # the reader's position; None before it started
        self.position: Offset = (0, 0)
        self.reading = False
        self._outbox: deque[_Write] = deque()
        self._in_flight: list[_Write] = []  # the batch being sent (unconfirmed if cancelled)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._started = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_warning = -1e9

    @property
    def healthy(self) -> bool:
        return self.reading and self.pubsub.healthy

    # -- life cycle ---------------------------------------------------------------------

    def acquire(self, adapter: StreamReader) -> None:
        """An adapter joins (the first one starts the link)."""
        self.adapters[adapter.namespace.name] = adapter
        self.pubsub.acquire()
        if self.client is None:
            self._wake, self._started = asyncio.Event(), asyncio.Event()
            self._idle = asyncio.Event()
            self._idle.set()
            name = self.settings.naming(self.pubsub.name)  # every connection of the adapter
            self.client = self.settings.connect(**name)
            # XREAD BLOCK outlasts redis-py's default 5 s socket timeout: a client of its own
            # (unless one was given: its socket timeout must then exceed block_time).
            self._reader = self.settings.connect(**name, socket_timeout=self.block_time + 10.0)
            loop = asyncio.get_running_loop()
            writer = write_in_order(self._wake, self._outbox, self._send, self._idle.set)
            self._tasks = [loop.create_task(self._read()), loop.create_task(writer)]

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until the reader knows its starting point and pub/sub is up."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._started.wait()
        return await self.pubsub.wait_ready(timeout) and self._started.is_set()

    async def release(self, adapter: StreamReader) -> None:
        """An adapter leaves; the last one flushes the queued writes (for up to
        :data:`~aiosio.adapters.redis.link.FLUSH_TIMEOUT` seconds: the sessions a shutdown
        persists among them; the writes still queued after it fail, running their
        ``on_error``), stops the link's tasks and closes its connections, even when this
        close is itself cancelled."""
        if self.adapters.get(adapter.namespace.name) is adapter:
            del self.adapters[adapter.namespace.name]
        try:
            if not self.adapters and self.client is not None:
                tasks, self._tasks = self._tasks, []
                await wind_down(
                    self._idle, tasks, self._close_clients, logger, flush_timeout=link.FLUSH_TIMEOUT
                )
        finally:
            await self.pubsub.release()

    async def _close_clients(self) -> None:
        client, self.client = self.client, None
        reader, self._reader = self._reader, None
        self.reading = False
        self.last_id = None
        unsent = [*self._in_flight, *self._outbox]
        self._outbox.clear()
        self._in_flight = []
        self._idle.set()
        if unsent:
            logger.warning("%d writes not sent (or not confirmed) by Redis at close", len(unsent))
        try:
            for write in unsent:
                if write.on_error is not None:
                    write.on_error()
        finally:
            try:
                if client is not self.settings.client:
                    await topology.close(client)
            finally:
                if reader is not None and reader is not self.settings.client:
                    await topology.close(reader)

    # -- writing ------------------------------------------------------------------------

    def add(self, fields: dict[str, str], on_error: Callable[[], None] | None = None) -> None:
        """Queue an XADD; ``on_error`` runs if it fails.

        Raises:
            ClusterError: When the link is not started or too many writes wait.
        """
        self._queue(_Write(fields=fields, on_error=on_error))

    def set(self, key: str, value: str, ttl: float) -> None:
        """Queue ``SET key value PX ttl``.

        Raises:
            ClusterError: When the link is not started or too many writes wait.
        """
        self._queue(_Write(key=key, value=value, ttl_ms=max(1, round(ttl * 1000))))

    def delete(self, key: str) -> None:
        """Queue ``DEL key``.

        Raises:
            ClusterError: When the link is not started or too many writes wait.
        """
        self._queue(_Write(key=key))

    def _queue(self, write: _Write) -> None:
        if self.client is None:
            raise ClusterError("the stream adapter is not started")
        if len(self._outbox) >= self.settings.max_outbox:
            raise ClusterError("too many messages waiting for Redis")
        self._outbox.append(write)
        self._idle.clear()
        self._wake.set()

    async def _send(self, batch: list[_Write]) -> None:
        """Write ``batch`` in one pipeline (once more on a fresh connection after a Redis
        restart); the writes that failed run their ``on_error``."""
        assert self.client is not None
        self._in_flight = batch
        try:
            results = await run_pipeline(
                self.client, functools.partial(self._fill, batch=batch), raise_on_error=False
            )
        except (RedisError, OSError) as exc:
            if time.monotonic() - self._last_warning >= 10.0:  # once per outage
                self._last_warning = time.monotonic()
                logger.warning("dropped %d writes to Redis: %s", len(batch), exc)
            results = [exc] * len(batch)
        self._in_flight = []  # still set if the close cancelled the send
        for write, result in zip(batch, results, strict=True):
            if isinstance(result, Exception) and write.on_error is not None:
                write.on_error()

    def _fill(self, pipe: Any, batch: list[_Write]) -> None:
        for write in batch:
            if write.fields is not None:
                pipe.xadd(self.stream_name, write.fields, maxlen=self.max_len, approximate=True)
            elif write.ttl_ms:
                pipe.set(write.key, write.value, px=write.ttl_ms)
            else:
                pipe.delete(write.key)

    # -- reading ------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._reader is not None
        client = self._reader
        delay = 0.05
        while True:
            try:
                if self.last_id is None:
                    # Where "$" would start, but known before the first XREAD: what this
                    # server adds from now on is read back.
                    tail: Any = await client.xrevrange(self.stream_name, "+", "-", count=1)
                    self._advance(tail[0][0].decode() if tail else "0-0")
                    self.reading = True
                    self._started.set()
                assert self.last_id is not None
                block = max(1, round(self.block_time * 1000))
                reply: Any = await client.xread(
                    {self.stream_name: self.last_id}, count=self.read_count, block=block
                )
                self.reading = True
                delay = 0.05
                streams = reply.values() if isinstance(reply, dict) else (r[1] for r in reply)
                for entries in streams:
                    for entry_id, fields in entries:
                        self._dispatch(entry_id.decode(), fields)
            except (RedisError, OSError) as exc:
                if self.reading:
                    logger.warning("lost the Redis stream %s: %s", self.stream_name, exc)
                self.reading = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _advance(self, entry_id: str) -> None:
        self.last_id = entry_id
        self.position = parse_offset(entry_id) or self.position

    def _dispatch(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        self._advance(entry_id)
        nsp = fields.get(b"nsp")
        if not nsp:
            return  # what the reference skips too
        adapter = self.adapters.get(nsp.decode(errors="replace"))
        if adapter is None:
            return
        try:
            adapter.on_entry(entry_id, fields)
        except (RemoteProtocolError, LocalProtocolError) as exc:
            adapter.warn("bad", "dropped stream entry %s: %s", entry_id, exc)
        except Exception:  # the reader task must survive a failing handler
            logger.exception("stream entry %s failed", entry_id)
