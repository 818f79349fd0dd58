"""The PostgreSQL connections a cluster shares: one that LISTENs (and reads attachments),
and one writer task that NOTIFYs in order, as ``@socket.io/postgres-adapter`` 0.5 does.

A message travels as the JSON of ``{uid, nsp, type, data}`` in ``pg_notify('<prefix>#<nsp>',
...)``. One that holds binary data (a broadcast, a server-side emit or an answer to either)
or whose JSON reaches ``payload_threshold`` bytes (NOTIFY refuses 8000) is stored instead as
msgpack in the attachments table, and the notification carries ``{uid, type,
attachmentId}``; the receivers read the row. Rows older than ``cleanup_interval`` are
deleted by every server, every ``cleanup_interval``.

NOTIFY folds identical notifications sent in one transaction into one, so a batch is sent
in one ``executemany`` (one transaction) only up to its first repeated message: a
broadcast sent twice arrives twice. Health needs the listening connection up and a
``SELECT 1`` answered on both connections within ``health_timeout``. The package
:mod:`aiosio.adapters.postgres` is the only place of aiosio that imports ``asyncpg``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

import asyncpg
import orjson

from aiosio._tasks import wind_down
from aiosio.adapters.codec import has_binary, message_value, pack, to_json
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.exceptions import ClusterError

__all__ = ["ATTACHED", "FLUSH_TIMEOUT", "PostgresLink", "PostgresSettings", "encode_notification"]

logger = logging.getLogger("aiosio.postgres")

Handler = Callable[[str, bytes | dict[str, Any]], None]
"""(channel, payload): the JSON text of a notification, or the decoded header of an
attachment with its msgpack bytes under ``"payload"``."""

ATTACHED = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.BROADCAST_ACK,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
    }
)
"""The message types whose binary data goes to the attachments table (Node's rule; other
types carry bytes as Buffer JSON)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
MAX_CHANNEL = 63  # bytes: a longer channel name is refused by PostgreSQL

FLUSH_TIMEOUT = 5.0
"""The longest a closing link waits for PostgreSQL to take what was queued before the close."""


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """How a link talks to PostgreSQL: built once by the factory, read by its link.

    Attributes:
        dsn: ``postgresql://user@host:port/database``.
        channel_prefix: Channels are ``<prefix>#<nsp>`` (``channelPrefix``).
        table_name: The attachments table (``tableName``); a plain or schema-qualified
            identifier.
        payload_threshold: A message whose JSON has at least this many bytes is attached.
        cleanup_interval: Seconds between two deletions of old attachments, and the age
            at which they go.
        create_table: Create the attachments table when it is missing.
        max_message_size: Larger attachments are dropped unread.
        max_outbox: Messages waiting for PostgreSQL; beyond it publishing fails.
        max_retry_delay: The longest wait between attempts to connect again.
        health_timeout: Seconds PostgreSQL may leave a ``SELECT 1`` unanswered.
    """

    dsn: str
    _: KW_ONLY
    channel_prefix: str = "socket.io"
    table_name: str = "socket_io_attachments"
    payload_threshold: int = 8000
    cleanup_interval: float = 30.0
    create_table: bool = True
    max_message_size: int = 32 * 1024 * 1024
    max_outbox: int = 10_000
    max_retry_delay: float = 0.5
    health_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.table_name):
            raise ValueError(f"table_name must be an SQL identifier, not {self.table_name!r}")
        if not 0 < self.payload_threshold <= 8000:
            raise ValueError("payload_threshold must be within 1..8000 (the NOTIFY limit)")

    def channel(self, nsp: str) -> str:
        """The channel of a namespace.

        Args:
            nsp: The namespace's name.

        Returns:
            ``<channel_prefix>#<nsp>``, as the Node adapter names it.
        """
        return f"{self.channel_prefix}#{nsp}"


def encode_notification(message: ClusterMessage, threshold: int) -> bytes | None:
    """The JSON notification of ``message``, or None when it must go as an attachment."""
    if message.type in ATTACHED and has_binary(message.data):
        return None
    payload = to_json(message_value(message))
    return payload if len(payload) < threshold else None


Outgoing = tuple[str, ClusterMessage]


class PostgresLink:
    """Two connections shared by the adapters of every namespace of one server.

    One listens to the namespaces' channels, the other writes.

    Args:
        settings: How to reach PostgreSQL and the limits of the link.
    """

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self.listening = False
        self.responsive = True
        self.uids: set[str] = set()  # this server's adapters: their attachments are not read
        self._handlers: dict[str, Handler] = {}
        self._listener: Any = None
        self._writer: Any = None
        self._writer_lock = asyncio.Lock()
        self._outbox: deque[Outgoing] = deque()
        self._inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits to be sent
        self._idle.set()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._users = 0
        self._closing = False
        self._last_warning: dict[str, float] = {}
        self.dropped = 0  # messages that could not be sent (counted, logged every 10 s)

    def _warn(self, kind: str, text: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(kind, -1e9) >= 10.0:
            self._last_warning[kind] = now
            logger.warning(text, *args)

    @property
    def healthy(self) -> bool:
        """Listening, and PostgreSQL answered the last ``SELECT 1`` of both connections."""
        return self.listening and self.responsive

    # -- life cycle ---------------------------------------------------------------------

    def acquire(self) -> None:
        """An adapter starts using the link (the first one starts it)."""
        self._users += 1
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._ready, self._wake, self._idle = asyncio.Event(), asyncio.Event(), asyncio.Event()
            self._idle.set()
            self._inbox = asyncio.Queue()
            self._writer_lock = asyncio.Lock()
            self._tasks = [
                loop.create_task(self._listen()),
                loop.create_task(self._write()),
                loop.create_task(self._receive()),
                loop.create_task(self._watch()),
                loop.create_task(self._clean()),
            ]

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until the listening connection is up.

        Args:
            timeout: The most seconds to wait.

        Returns:
            Whether it is up; False once ``timeout`` passed.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        return self.healthy

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until the outbox is sent.

        Args:
            timeout: The most seconds to wait; what is left is sent later all the same.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()

    async def release(self) -> None:
        """An adapter stops using the link (the last one closes it).

        The last one gives PostgreSQL up to :data:`FLUSH_TIMEOUT` seconds to take what was
        queued, then stops the link's tasks (cancelling again one that lost its cancel:
        :func:`aiosio._tasks.stop`) and closes its connections, even when this close is
        itself cancelled.
        """
        self._users -= 1
        if self._users > 0 or not self._tasks:
            return
        self._closing = True
        tasks, self._tasks = self._tasks, []
        await wind_down(self._idle, tasks, self._close, logger, flush_timeout=FLUSH_TIMEOUT)

    async def _close(self) -> None:
        listener, writer = self._listener, self._writer
        self._listener = self._writer = None
        try:
            for connection in (listener, writer):
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
        finally:
            self._set_listening(False)
            self._closing = False

    def _set_listening(self, listening: bool) -> None:
        if listening != self.listening:
            self.listening = listening
            if listening:
                logger.info("listening on PostgreSQL")
            elif not self._closing:
                logger.warning("lost the PostgreSQL listening connection")
        if listening:
            self.responsive = True
            self._ready.set()
        else:
            self._ready.clear()

    # -- listening ----------------------------------------------------------------------

    async def listen(self, nsp: str, handler: Handler) -> None:
        """Hear the channel of a namespace.

        Args:
            nsp: The namespace's name.
            handler: Called with each notification of the channel.

        Raises:
            ClusterError: The channel's name is longer than PostgreSQL allows.
        """
        channel = self.settings.channel(nsp)
        if len(channel.encode()) > MAX_CHANNEL:
            raise ClusterError(f"channel {channel!r} is longer than {MAX_CHANNEL} bytes")
        self._handlers[channel] = handler
        listener = self._listener
        if listener is not None:
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await listener.add_listener(channel, self._notified)

    async def unlisten(self, nsp: str) -> None:
        """Stop hearing the channel of a namespace.

        Args:
            nsp: The namespace's name.
        """
        channel = self.settings.channel(nsp)
        if self._handlers.pop(channel, None) is not None and self._listener is not None:
            with contextlib.suppress(asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                await self._listener.remove_listener(channel, self._notified)

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._inbox.put_nowait((channel, payload))

    async def _listen(self) -> None:
        """Keep the listening connection up: connect, LISTEN every channel, wait for its
        end, and again after a delay that doubles up to ``max_retry_delay``."""
        delay = 0.05
        while True:
            lost = asyncio.Event()
            try:
                listener = await asyncpg.connect(self.settings.dsn, timeout=5)
                listener.add_termination_listener(lambda _connection, lost=lost: lost.set())
                self._listener = listener
                if self.settings.create_table:
                    await self._create_table(listener)
                for channel in list(self._handlers):
                    await listener.add_listener(channel, self._notified)
                self._set_listening(True)
                delay = 0.05
                await lost.wait()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                self._warn("listen", "PostgreSQL listening connection failed: %s", exc)
            finally:
                listener, self._listener = self._listener, None
                self._set_listening(False)
                if listener is not None:
                    with contextlib.suppress(Exception):
                        listener.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.max_retry_delay)

    async def _create_table(self, connection: Any) -> None:
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {self.settings.table_name} "
            "(id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)"
        )

    async def _receive(self) -> None:
        """Hand the notifications to their handlers in the order they came; an attachment
        is read (on the listening connection) before the next notification is handled."""
        while True:
            channel, text = await self._inbox.get()
            handler = self._handlers.get(channel)
            if handler is None:
                continue
            try:
                header = orjson.loads(text)
            except orjson.JSONDecodeError:
                self._warn("bad", "dropped a notification on %r that is not JSON", channel)
                continue
            attachment = header.get("attachmentId") if isinstance(header, dict) else None
            if attachment is None:
                self._handle(handler, channel, text.encode())
            elif header.get("uid") not in self.uids:
                payload = await self._attachment(attachment)
                if payload is not None:
                    self._handle(handler, channel, {**header, "payload": payload})

    async def _attachment(self, attachment: Any) -> bytes | None:
        listener = self._listener
        try:
            identifier = int(attachment)
            if listener is None:
                raise ClusterError("not connected")
            row = await listener.fetchrow(
                f"SELECT octet_length(payload) AS size, CASE WHEN octet_length(payload) <= $2 "
                f"THEN payload END AS payload FROM {self.settings.table_name} WHERE id = $1",
                identifier,
                self.settings.max_message_size,
            )
        except (ValueError, TypeError):
            self._warn("bad", "dropped an attachment with the id %r", attachment)
            return None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ClusterError) as exc:
            self._warn("read", "could not read attachment %s: %s", attachment, exc)
            return None
        if row is None or row["payload"] is None:
            size = None if row is None else row["size"]
            self._warn("size", "dropped attachment %s (%s bytes)", attachment, size)
            return None
        return bytes(row["payload"])

    def _handle(self, handler: Handler, channel: str, payload: bytes | dict[str, Any]) -> None:
        try:
            handler(channel, payload)
        except Exception:
            logger.exception("handler of %r failed", channel)

    # -- publishing ---------------------------------------------------------------------

    def publish(self, message: ClusterMessage) -> None:
        """Queue a message for its namespace's channel; sent in order by the writer task.

        Args:
            message: The message (large ones go through the attachments table).

        Raises:
            ClusterError: While PostgreSQL is unreachable, or when the queue is full.
        """
        if not self.healthy:
            raise ClusterError("PostgreSQL is unreachable (the listening connection is down)")
        if len(self._outbox) >= self.settings.max_outbox:
            raise ClusterError("too many messages waiting for PostgreSQL")
        self._outbox.append((self.settings.channel(message.nsp), message))
        self._idle.clear()
        self._wake.set()

    async def _connected_writer(self) -> Any:
        if self._writer is None or self._writer.is_closed():
            self._writer = await asyncpg.connect(self.settings.dsn, timeout=5)
        return self._writer

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 256))]
                async with self._writer_lock:
                    await self._send(batch)
            self._idle.set()

    async def _send(self, batch: list[Outgoing]) -> None:
        """Send ``batch`` in order: runs of plain notifications in one ``executemany``
        (split where a notification repeats), attachments one by one. A failure on a
        dead connection is tried once more on a fresh one."""
        for attempt in (1, 2):
            try:
                writer = await self._connected_writer()
                await send_all(writer, batch, self.settings)
                return
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                closed = self._writer is None or self._writer.is_closed()
                if attempt == 2 or not closed:
                    self.dropped += len(batch)
                    self._warn("write", "dropped %d messages to PostgreSQL: %s", len(batch), exc)
                    return
                self._writer = None

    # -- health and cleanup -------------------------------------------------------------

    async def _watch(self) -> None:
        """``SELECT 1`` on both connections every half ``health_timeout``, each within
        half of it: a frozen server keeps its sockets open and silent."""
        loop = asyncio.get_running_loop()
        half = self.settings.health_timeout / 2
        while True:
            started = loop.time()
            if self.listening:
                responsive = await self._answers(half)
                if responsive != self.responsive:
                    self.responsive = responsive
                    if responsive:
                        logger.info("PostgreSQL answers again")
                    else:
                        logger.warning("PostgreSQL did not answer within %.1f s", half)
            await asyncio.sleep(max(0.0, started + half - loop.time()))

    async def _answers(self, deadline: float) -> bool:
        try:
            async with asyncio.timeout(deadline):
                listener = self._listener
                if listener is None:
                    return False
                await listener.fetchval("SELECT 1")
                async with self._writer_lock:
                    writer = await self._connected_writer()
                    await writer.fetchval("SELECT 1")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            if self._writer is not None and self._writer.is_closed():
                self._writer = None
            return False
        return True

    async def _clean(self) -> None:
        """Delete the attachments older than ``cleanup_interval``, every interval."""
        interval = self.settings.cleanup_interval
        while True:
            await asyncio.sleep(interval)
            if not self.healthy:
                continue
            try:
                async with self._writer_lock:
                    writer = await self._connected_writer()
                    await delete_old(writer, self.settings)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                self._warn("clean", "could not delete old attachments: %s", exc)


async def send_all(connection: Any, batch: list[Outgoing], settings: PostgresSettings) -> None:
    """Send ``(channel, message)`` pairs in order on ``connection`` (see ``_send``)."""
    run: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    async def flush_run() -> None:
        if run:
            await connection.executemany("SELECT pg_notify($1, $2)", run)
            run.clear()
            seen.clear()

    for channel, message in batch:
        payload = encode_notification(message, settings.payload_threshold)
        if payload is None:
            await flush_run()
            await attach(connection, channel, message, settings)
            continue
        item = (channel, payload.decode())
        if item in seen:
            await flush_run()
        run.append(item)
        seen.add(item)
    await flush_run()


async def attach(
    connection: Any, channel: str, message: ClusterMessage, settings: PostgresSettings
) -> None:
    """Store ``message`` as msgpack in the attachments table and notify its id."""
    identifier = await connection.fetchval(
        f"INSERT INTO {settings.table_name} (payload) VALUES ($1) RETURNING id",
        pack(message_value(message)),
    )
    # node-postgres reads a bigserial as a string; the Node adapter sends it so.
    header = {"uid": message.uid, "type": int(message.type), "attachmentId": str(identifier)}
    await connection.execute("SELECT pg_notify($1, $2)", channel, to_json(header).decode())


async def delete_old(connection: Any, settings: PostgresSettings) -> None:
    """Delete the attachments older than ``cleanup_interval``."""
    await connection.execute(
        f"DELETE FROM {settings.table_name} WHERE created_at < now() - make_interval(secs => $1)",
        settings.cleanup_interval,
    )
