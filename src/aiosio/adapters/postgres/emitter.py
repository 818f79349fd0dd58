"""Emitter: reach the sockets of a PostgreSQL cluster from any Python process.

Writes what ``@socket.io/postgres-emitter`` writes (uid ``emitter``, JSON notifications on
``<prefix>#<nsp>``, the attachments table for binary or large payloads), plus the ``nsp``
field: Node's emitter leaves it out, and Node's adapter 0.5 then drops its messages, where
aiosio servers read the namespace from the channel; with it, both hear this emitter::

    async with Emitter("postgresql://postgres@127.0.0.1/app") as emitter:
        emitter.to("room-1").emit("news", {"id": 1}, b"\\x00")
        emitter.of("/admin").in_("room-1").sockets_join("room-2")
        emitter.server_side_emit("reload")

Operations queue and never await; one task sends them in order on one connection, and
:meth:`Emitter.flush` (or leaving the ``async with`` block) waits until PostgreSQL has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from aiosio.adapters.emitting import EMITTER_UID, EmitterBase
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.adapters.postgres.link import Outgoing, PostgresSettings, send_all

__all__ = ["Emitter"]

logger = logging.getLogger("aiosio.emitter")


class _Publisher:
    """One connection and an ordered queue of ``(channel, message)``."""

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.connection: Any = None

    def send(self, channel: str, message: ClusterMessage) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        self.queue.put_nowait((channel, message))

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                for attempt in (1, 2):  # once more on a fresh connection
                    try:
                        if self.connection is None or self.connection.is_closed():
                            self.connection = await asyncpg.connect(self.settings.dsn, timeout=5)
                        await send_all(self.connection, batch, self.settings)
                        break
                    except (asyncpg.InterfaceError, OSError):
                        self.connection = None
                        if attempt == 2:
                            raise
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                logger.warning("dropped %d messages to PostgreSQL: %s", len(batch), exc)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.connection is not None:
            await self.connection.close(timeout=2)


class Emitter(EmitterBase):
    """Publishes to the sockets of a cluster of servers sharing a PostgreSQL database."""

    def __init__(
        self,
        dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
        *,
        namespace: str = "/",
        channel_prefix: str = "socket.io",
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
        _publisher: _Publisher | None = None,
    ) -> None:
        self.settings = PostgresSettings(
            dsn,
            channel_prefix=channel_prefix,
            table_name=table_name,
            payload_threshold=payload_threshold,
        )
        self.namespace = namespace if namespace.startswith("/") else "/" + namespace
        self._publisher = _publisher or _Publisher(self.settings)

    def of(self, namespace: str) -> Emitter:
        """The same emitter (and connection) for another namespace."""
        settings = self.settings
        return Emitter(
            settings.dsn,
            namespace=namespace,
            channel_prefix=settings.channel_prefix,
            table_name=settings.table_name,
            payload_threshold=settings.payload_threshold,
            _publisher=self._publisher,
        )

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message."""
        message = ClusterMessage(type, EMITTER_UID, self.namespace, data)
        self._publisher.send(self.settings.channel(self.namespace), message)

    async def flush(self) -> None:
        """Wait until everything queued so far reached PostgreSQL."""
        await self._publisher.queue.join()

    async def close(self) -> None:
        """Close the emitter's connection."""
        await self._publisher.close()
