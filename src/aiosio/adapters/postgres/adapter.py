"""PostgresAdapter: a cluster over PostgreSQL ``LISTEN``/``NOTIFY``, wire-compatible with
``@socket.io/postgres-adapter`` 0.5.

::

    io = aiosio.Server(adapter=postgres_adapter("postgresql://postgres@127.0.0.1/app"))

Python and Node servers (``createAdapter(pool)`` of the Node package) share one cluster when
they use the same database, channel prefix and attachments table. Each namespace has one
channel, ``<prefix>#<nsp>``; every server hears every message of it (responses included,
which servers that did not ask ignore). :mod:`.link` holds the connections and the format.

The servers count each other by heartbeats, as socket.io-adapter's
``ClusterAdapterWithHeartbeat`` does: a server announces itself (``INITIAL_HEARTBEAT``, which
the others answer with a ``HEARTBEAT``), sends a ``HEARTBEAT`` when it has published nothing
for ``heartbeat_interval`` seconds, says ``ADAPTER_CLOSE`` when it stops, and counts as gone
after ``heartbeat_timeout`` seconds of silence. Beyond Node, an aiosio server announces
itself again every ``heartbeat_timeout``, which finds Node servers that never published. A request
(``fetch_sockets``, a server-side emit with acks) waits for the servers known when it was
sent; one that leaves meanwhile is not waited for.

Messages of ``@socket.io/postgres-emitter`` name no namespace; they are read as messages of
the namespace of the channel they came on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiosio.adapters.base import Host
from aiosio.adapters.cluster import (
    DEFAULT_TIMEOUT,
    ClusterMessage,
    LinkedAdapter,
    LinkedAdapterFactory,
    MessageType,
)
from aiosio.adapters.codec import load, message_from, unpack
from aiosio.adapters.postgres.link import PostgresLink, PostgresSettings
from aiosio.exceptions import ClusterError, RemoteProtocolError

__all__ = ["PostgresAdapter", "PostgresAdapterFactory", "postgres_adapter"]

EMITTER_UID = "emitter"  # the uid emitters send; never counted as a server


class PostgresAdapter(LinkedAdapter):
    """The adapter of one namespace on a :class:`PostgresLink`.

    Made by :func:`postgres_adapter`'s factory, whose options are documented there.

    Args:
        namespace: The namespace served.
        link: The server's connections to PostgreSQL, shared by its namespaces.
        requests_timeout: Seconds to wait for the other servers' answers.
        heartbeat_interval: Seconds without publishing before a heartbeat is sent.
        heartbeat_timeout: Seconds of silence after which a server counts as gone.

    Raises:
        ValueError: Unless ``0 < heartbeat_interval < heartbeat_timeout``.
    """

    link: PostgresLink

    def __init__(
        self,
        namespace: Host,
        link: PostgresLink,
        *,
        requests_timeout: float = DEFAULT_TIMEOUT,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
    ) -> None:
        super().__init__(namespace, link, requests_timeout=requests_timeout)
        if not 0 < heartbeat_interval < heartbeat_timeout:
            raise ValueError("0 < heartbeat_interval < heartbeat_timeout is required")
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.nodes: dict[str, float] = {}  # uid -> when it was last heard (monotonic)
        self._last_published = 0.0

    async def _subscribe(self) -> None:
        self.link.acquire()
        self.link.uids.add(self.uid)
        await self.link.listen(self.namespace.name, self._on_notification)
        self._spawn(self._beat())

    async def _unsubscribe(self) -> None:
        # When PostgreSQL is unreachable, the others forget this server after their timeout.
        with contextlib.suppress(ClusterError):
            self.publish(self.message(MessageType.ADAPTER_CLOSE))
        await self.link.unlisten(self.namespace.name)
        self.link.uids.discard(self.uid)
        await self.link.release()

    # -- ClusterAdapter backend ---------------------------------------------------------

    def publish(self, message: ClusterMessage, *, to: str | None = None) -> None:
        """Notify every server of the namespace (answers too: the others ignore them).

        Args:
            message: The message.
            to: The server an answer is meant for; unused, as every server hears the channel.
        """
        self._ensure_started()
        self.link.publish(message)
        self._last_published = time.monotonic()

    async def server_count(self) -> int:
        """How many servers share the namespace.

        Returns:
            This server and the others heard within ``heartbeat_timeout``.

        Raises:
            ClusterError: The listening connection is down.
        """
        self._ensure_started()
        if not self.link.healthy:
            raise ClusterError("PostgreSQL is unreachable (the listening connection is down)")
        self._forget_silent()
        return 1 + len(self.nodes)

    # -- heartbeats ---------------------------------------------------------------------

    async def _beat(self) -> None:
        """Announce this server (``INITIAL_HEARTBEAT``, which every server answers) when
        the link comes up and then every ``heartbeat_timeout``; send a ``HEARTBEAT`` after
        ``heartbeat_interval`` without publishing; forget the servers gone silent.

        The repeated announcement finds the servers that stay silent: a Node server sends
        heartbeats only once it has published something, and one that started after this
        server's first announcement would otherwise never be heard of.
        """
        announced = -1e9
        while True:
            now = time.monotonic()
            if not self.link.healthy:
                announced = -1e9
                await self.link.wait_ready(1.0)
                continue
            if now - announced >= self.heartbeat_timeout:
                self._try_publish(self.message(MessageType.INITIAL_HEARTBEAT))
                announced = now
            elif now - self._last_published >= self.heartbeat_interval:
                self._try_publish(self.message(MessageType.HEARTBEAT))
            self._forget_silent()
            await asyncio.sleep(min(1.0, self.heartbeat_interval))

    def _forget_silent(self) -> None:
        deadline = time.monotonic() - self.heartbeat_timeout
        for uid in [uid for uid, seen in self.nodes.items() if seen < deadline]:
            self._remove_node(uid)

    def _remove_node(self, uid: str) -> None:
        """A server left: the requests waiting for its answer wait for one fewer."""
        if self.nodes.pop(uid, None) is None:
            return
        for request in self._requests.values():
            request.expected -= 1
            if request.current >= request.expected and not request.future.done():
                request.future.set_result(request.responses)

    # -- receiving ----------------------------------------------------------------------

    def _on_notification(self, channel: str, payload: bytes | dict[str, Any]) -> None:
        try:
            if isinstance(payload, dict):
                message = message_from(unpack(payload["payload"]), self.namespace.name)
            else:
                message = message_from(load(payload), self.namespace.name)
        except RemoteProtocolError as exc:
            self.warn("bad", "dropped a malformed notification on %r: %s", channel, exc)
            return
        self.on_message(message)

    def on_message(self, message: ClusterMessage) -> None:
        """Handle a message: heartbeats keep a server counted, the rest as every cluster adapter.

        Args:
            message: The message; this server's own and other namespaces' are ignored.
        """
        uid = message.uid
        if uid == self.uid or message.nsp != self.namespace.name:
            return
        if uid and uid != EMITTER_UID:
            self.nodes[uid] = time.monotonic()
        match message.type:
            case MessageType.INITIAL_HEARTBEAT:
                self._try_publish(self.message(MessageType.HEARTBEAT))
            case MessageType.HEARTBEAT:
                pass
            case MessageType.ADAPTER_CLOSE:
                self._remove_node(uid)
            case _:
                super().on_message(message)


class PostgresAdapterFactory(LinkedAdapterFactory):
    """Makes the :class:`PostgresAdapter` of each namespace; all share one link."""

    adapter_class = PostgresAdapter


def postgres_adapter(
    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
    *,
    channel_prefix: str = "socket.io",
    table_name: str = "socket_io_attachments",
    payload_threshold: int = 8000,
    cleanup_interval: float = 30.0,
    heartbeat_interval: float = 5.0,
    heartbeat_timeout: float = 10.0,
    requests_timeout: float = DEFAULT_TIMEOUT,
    create_table: bool = True,
    max_message_size: int = 32 * 1024 * 1024,
    max_outbox: int = 10_000,
    health_timeout: float = 5.0,
) -> PostgresAdapterFactory:
    """The ``adapter`` option of :class:`aiosio.Server` for a cluster over PostgreSQL.

    Args:
        dsn: The database (``postgresql://user:password@host:port/database``).
        channel_prefix: Channels are ``<prefix>#<nsp>`` (Node: ``channelPrefix``).
        table_name: The attachments table (``tableName``).
        payload_threshold: Messages whose JSON has this many bytes or more go through
            the attachments table (``payloadThreshold``; NOTIFY's limit is 8000).
        cleanup_interval: Seconds between deletions of the attachments older than that
            (``cleanupInterval``, in seconds here).
        heartbeat_interval: Seconds without publishing before a heartbeat is sent.
        heartbeat_timeout: Seconds of silence after which a server counts as gone.
        requests_timeout: Seconds to wait for the other servers' answers.
        create_table: Create the attachments table if it is missing.
        max_message_size: Larger attachments are dropped unread.
        max_outbox: Messages waiting for PostgreSQL; beyond it publishing fails.
        health_timeout: Seconds PostgreSQL may leave a ``SELECT 1`` unanswered before the
            adapter counts as unhealthy.

    Returns:
        The factory to pass as ``Server(adapter=...)``: it makes each namespace's
        :class:`PostgresAdapter`, all sharing one :class:`PostgresLink`.
    """
    settings = PostgresSettings(
        dsn,
        channel_prefix=channel_prefix,
        table_name=table_name,
        payload_threshold=payload_threshold,
        cleanup_interval=cleanup_interval,
        create_table=create_table,
        max_message_size=max_message_size,
        max_outbox=max_outbox,
        health_timeout=health_timeout,
    )
    return PostgresAdapterFactory(
        PostgresLink(settings),
        requests_timeout=requests_timeout,
        heartbeat_interval=heartbeat_interval,
        heartbeat_timeout=heartbeat_timeout,
    )
