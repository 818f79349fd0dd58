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

from typing import Any

import asyncpg

from aiosio.adapters.emitting import EMITTER_UID, BatchPublisher, EmitterBase
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.adapters.postgres.link import Outgoing, PostgresSettings, send_all

__all__ = ["Emitter"]


class _Publisher(BatchPublisher[Outgoing]):
    """One connection and an ordered queue of ``(channel, message)``."""

    backend = "PostgreSQL"
    errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

    def __init__(self, settings: PostgresSettings) -> None:
        super().__init__()
        self.settings = settings
        self.connection: Any = None

    async def publish(self, batch: list[Outgoing]) -> None:
        for attempt in (1, 2):  # once more on a fresh connection
            try:
                if self.connection is None or self.connection.is_closed():
                    self.connection = await asyncpg.connect(self.settings.dsn, timeout=5)
                await send_all(self.connection, batch, self.settings)
                return
            except (asyncpg.InterfaceError, OSError):
                self.connection = None
                if attempt == 2:
                    raise

    async def disconnect(self) -> None:
        if self.connection is not None:
            await self.connection.close(timeout=2)


class Emitter(EmitterBase):
    """Publishes to the sockets of a cluster of servers sharing a PostgreSQL database.

    Args:
        dsn: The database the cluster uses.
        namespace: The namespace emitted to; :meth:`of` gives the others.
        channel_prefix: The servers' channel prefix (their adapter's ``channel_prefix``).
        table_name: The attachments table (their adapter's ``table_name``).
        payload_threshold: Messages whose JSON has this many bytes or more go through the
            attachments table (NOTIFY's limit is 8000).
    """

    def __init__(
        self,
        dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
        *,
        namespace: str = "/",
        channel_prefix: str = "socket.io",
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
    ) -> None:
        self.settings = PostgresSettings(
            dsn,
            channel_prefix=channel_prefix,
            table_name=table_name,
            payload_threshold=payload_threshold,
        )
        super().__init__(namespace, _Publisher(self.settings))

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message.

        Args:
            type: The message type (a broadcast, a join, a disconnection...).
            data: Its payload, as the adapters read it.
        """
        message = ClusterMessage(type, EMITTER_UID, self.namespace, data)
        self._publisher.put((self.settings.channel(self.namespace), message))
