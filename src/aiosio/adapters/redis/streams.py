"""StreamsAdapter: a cluster over one Redis stream, as ``@socket.io/redis-streams-adapter``.

::

    io = aiosio.Server(
        adapter=streams_adapter(url="redis://127.0.0.1:6379"),
        connection_state_recovery={"max_disconnection_duration": 120},
    )

Python servers and Node servers (``createAdapter`` of ``@socket.io/redis-streams-adapter``
0.3) share one cluster when they use the same Redis, stream name and channel prefix; the
formats are in :mod:`aiosio.adapters.redis.entries`. Broadcasts and room operations are entries of
one stream, read by one task per server (``XREAD BLOCK``); broadcasts with acknowledgements,
server-side emits, ``fetch_sockets`` and every response go over pub/sub.

Connection state recovery works across the cluster: the id of a broadcast's entry is the
offset its event carries; a socket lost for a recoverable reason is kept in Redis (``SET
... PX``) and a client that comes back to any server of the cluster (Node servers included)
within the window gets its id, rooms and data back and every broadcast it missed, read back
from the stream. With recovery on, a server delivers its own broadcasts when its reader
reads them back, so every local socket receives the stream in the stream's order, and its
last offset tells exactly what it has; a restore completed by the reader's position when the
socket joins then neither loses nor repeats a packet.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aiosio.adapters.base import Adapter, BroadcastOptions, Host, RecoveryLimits, Session
from aiosio.adapters.cluster import (
    DEFAULT_TIMEOUT,
    ClusterMessage,
    LinkedAdapter,
    LinkedAdapterFactory,
)
from aiosio.adapters.messages import (
    MessageType,
    decode_options,
    decode_packet,
    encode_options,
    encode_packet,
)
from aiosio.adapters.redis.entries import (
    Offset,
    decode_entry,
    decode_pubsub,
    decode_session,
    encode_entry,
    encode_pubsub,
    encode_session,
    includes,
    is_ephemeral,
    next_offset,
    parse_offset,
)
from aiosio.adapters.redis.link import LinkSettings
from aiosio.adapters.redis.stream_link import StreamLink
from aiosio.exceptions import ClusterError, RemoteProtocolError
from aiosio.socketio.packets import EVENT, Packet

__all__ = ["StreamsAdapter", "StreamsAdapterFactory", "streams_adapter"]

logger = logging.getLogger("aiosio.streams")

RESTORE_MAX_XRANGE_CALLS = 100  # the reference's RESTORE_SESSION_MAX_XRANGE_CALLS
RESTORE_XRANGE_COUNT = 1000


@dataclass(frozen=True, slots=True)
class _Delivered:
    """A broadcast event delivered here with its offset, kept to complete restores."""

    offset: Offset
    data: list[Any]
    options: BroadcastOptions


class StreamsAdapter(LinkedAdapter):
    """The adapter of one namespace on a :class:`StreamLink`.

    Made by :func:`streams_adapter`'s factory, whose options are documented there.

    Args:
        namespace: The namespace served.
        link: The server's stream reader and pub/sub link, shared by its namespaces.
        channel_prefix: The prefix of the pub/sub channels.
        session_key_prefix: The prefix of the session keys.
        requests_timeout: Seconds to wait for the other servers' answers.
        delivered_kept: Recent broadcasts kept to complete restores.
        live_sessions: Keep each connected socket's session in Redis.
    """

    link: StreamLink

    supports_recovery = True

    def __init__(
        self,
        namespace: Host,
        link: StreamLink,
        *,
        channel_prefix: str = "socket.io",
        session_key_prefix: str = "sio:session:",
        requests_timeout: float = DEFAULT_TIMEOUT,
        delivered_kept: int = 1000,
        live_sessions: bool = False,
    ) -> None:
        super().__init__(namespace, link, requests_timeout=requests_timeout)
        self.live_sessions = live_sessions
        self._window = 0.0  # the recovery window, once recovery is on
        self._dirty: set[str] = set()  # sockets whose live session must be written
        self._first: dict[str, str | None] = {}  # socket id -> where it joined
        self._kept: set[str] = set()  # sockets whose session persist_session just wrote
        self.session_key_prefix = session_key_prefix
        self.channel = f"{channel_prefix}#{namespace.name}#"
        self.private_channel = f"{self.channel}{self.uid}#"
        self._delivered: deque[_Delivered] = deque(maxlen=delivered_kept)
        self._forgotten: Offset = (0, 0)  # the newest offset dropped from _delivered

    @property
    def recovers(self) -> bool:
        """Whether the server has connection state recovery on."""
        return self.namespace.recovers

    async def _subscribe(self) -> None:
        self.link.acquire(self)
        if self.live_sessions and self.recovers:
            self._spawn(self._refresh_live_sessions())
        pubsub = self.link.pubsub
        await pubsub.subscribe("channel", self.channel, self._on_pubsub)
        await pubsub.subscribe("channel", self.private_channel, self._on_pubsub)

    async def _unsubscribe(self) -> None:
        await self.link.pubsub.unsubscribe("channel", self.channel)
        await self.link.pubsub.unsubscribe("channel", self.private_channel)
        await self.link.release(self)

    # -- ClusterAdapter backend ---------------------------------------------------------

    def publish(self, message: ClusterMessage, *, to: str | None = None) -> None:
        """Append a cluster message to the stream, or publish it to one server.

        Args:
            message: The message.
            to: The uid of one server to answer (sent by pub/sub), or None for all.
        """
        self._ensure_started()
        if to is not None:
            self.link.pubsub.publish(f"{self.channel}{to}#", encode_pubsub(message))
        elif is_ephemeral(message):
            self.link.pubsub.publish(self.channel, encode_pubsub(message))
        else:
            self.link.add(encode_entry(message))

    async def server_count(self) -> int:
        """How many servers listen on the namespace (this one included).

        Returns:
            The number of subscribers of the namespace's pub/sub channel.
        """
        self._ensure_started()
        return await self.link.pubsub.numsub(self.channel)

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Broadcast through the stream, so that its entry id is the recovery offset.

        Args:
            packet: The packet to deliver.
            options: The rooms, exclusions and flags.
        """
        if options.flags.local or not self.recovers:
            super().broadcast(packet, options)
            return
        # Delivered here when the reader reads it back, with its offset; if Redis cannot
        # take it, delivered at once without one (as the reference does).
        data = {"packet": encode_packet(packet), "opts": encode_options(options)}
        message = self.message(MessageType.BROADCAST, data)
        self._ensure_started()
        try:
            self.link.add(
                encode_entry(message), on_error=lambda: self._deliver_now(packet, options)
            )
        except ClusterError as exc:
            self.warn("publish", "broadcast stays local: %s", exc)
            self.local_broadcast(packet, options)

    def _deliver_now(self, packet: Packet, options: BroadcastOptions) -> None:
        self.local_broadcast(packet, options)

    # -- receiving ----------------------------------------------------------------------

    def _on_pubsub(self, channel: bytes, payload: bytes) -> None:
        self.on_message(decode_pubsub(payload))

    def on_entry(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        """Handle an entry of the stream in this namespace (ours included).

        Args:
            entry_id: The entry's id, which is the offset of a recoverable broadcast.
            fields: The entry's fields, as Redis returns them.

        Raises:
            RemoteProtocolError: When the entry is not a valid cluster message.
        """
        message = decode_entry(fields)
        if message.type is not MessageType.BROADCAST or "requestId" in message.data:
            self.on_message(message)
            return
        if message.uid == self.uid and not self.recovers:
            return  # delivered when it was sent
        raw = message.data.get("packet")
        packet = decode_packet(raw, self.namespace.name)
        options = decode_options(message.data.get("opts"))
        offset = parse_offset(entry_id)
        if self.recovers and offset is not None and _takes_offset(raw, options):
            packet = Packet(EVENT, packet.namespace, [*packet.data, entry_id])
            if len(self._delivered) == self._delivered.maxlen:
                self._forgotten = self._delivered[0].offset
            self._delivered.append(_Delivered(offset, packet.data, options))
        self.local_broadcast(packet, options)

    # -- connection state recovery ------------------------------------------------------

    def enable_recovery(self, limits: RecoveryLimits, previous: Adapter | None = None) -> None:
        """Nothing kept in memory: sessions are in Redis, and the offsets are entry ids.

        Args:
            limits: Only ``max_age`` is read: how long a session is kept.
            previous: Unused: a restarted server finds the sessions in Redis.
        """
        self._window = limits.max_age

    # -- live sessions: a session in Redis while its socket is connected ------------------

    def add_all(self, sid: str, rooms: Any) -> None:
        """Add a socket to rooms; with live sessions, write its session soon.

        Args:
            sid: The socket id.
            rooms: The rooms.
        """
        rooms = list(rooms)
        super().add_all(sid, rooms)
        self._changed(sid)

    def _leave(self, sid: str, room: str) -> None:
        super()._leave(sid, room)
        self._changed(sid)

    def delete_all(self, sid: str) -> None:
        """A socket leaves its rooms; its live session goes too.

        Unless it was lost for a recoverable reason: then :meth:`persist_session` has just
        written it.

        Args:
            sid: The socket id.
        """
        super().delete_all(sid)
        self._dirty.discard(sid)
        self._first.pop(sid, None)
        if sid in self._kept:
            self._kept.discard(sid)
            return
        socket = self.namespace.sockets.get(sid)
        pid = getattr(socket, "pid", None)
        if self.live_sessions and self._window and isinstance(pid, str):
            try:
                self.link.delete(self.session_key_prefix + pid)
            except ClusterError as exc:
                self.warn("session", "live session of %s not deleted: %s", sid, exc)

    def _changed(self, sid: str) -> None:
        """Write the socket's live session soon (once for all of this tick's changes)."""
        if not (self.live_sessions and self._window and self._started):
            return
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._write_live)
        self._dirty.add(sid)

    def _write_live(self) -> None:
        """Write the session of every changed socket, as :meth:`persist_session` would
        when it is lost: a server killed outright (SIGKILL) writes nothing then, and its
        clients still come back to another server with their state."""
        dirty, self._dirty = self._dirty, set()
        for sid in dirty:
            socket = self.namespace.sockets.get(sid)
            pid = getattr(socket, "pid", None)
            rooms = self.sids.get(sid)
            if socket is None or not isinstance(pid, str) or rooms is None:
                continue
            first = self._first.setdefault(sid, self.recovery_offset())
            session = Session(sid, pid, sorted(rooms), socket.data, first)
            try:
                self.link.set(self.session_key_prefix + pid, encode_session(session), self._window)
            except (TypeError, ValueError, ClusterError) as exc:
                self.warn("session", "live session of %s not written: %s", sid, exc)

    async def _refresh_live_sessions(self) -> None:
        """Write every live session again every third of the window: it must outlive a
        socket connected longer than the window, and carry ``socket.data`` as it is now."""
        while True:
            await asyncio.sleep(max(1.0, self._window / 3))
            for sid in list(self.sids):
                self._changed(sid)

    def recovery_offset(self) -> str | None:
        """The id of the last stream entry read, the offset of a new session.

        Returns:
            The offset, or None before the first read.
        """
        return self.link.last_id

    def persist_session(self, session: Session, ttl: float) -> None:
        """Store a disconnected socket's session in Redis until it expires.

        Args:
            session: The socket's id, rooms, data and offset.
            ttl: Seconds it may be restored for.
        """
        self._kept.add(session.sid)  # delete_all keeps it
        try:
            value = encode_session(session)
            self.link.set(self.session_key_prefix + session.pid, value, ttl)
        except (TypeError, ValueError) as exc:
            self.warn("session", "session of %s not kept (its data): %s", session.sid, exc)
        except ClusterError as exc:
            self.warn("session", "session of %s not kept: %s", session.sid, exc)

    async def restore_session(self, pid: str, offset: str | None) -> Session | None:
        """Take back a stored session and the packets it missed since ``offset``.

        Args:
            pid: The private id the client sent.
            offset: The last offset the client received.

        Returns:
            The session, or None if it is unknown, expired, or the offset is invalid.

        Raises:
            ClusterError: The adapter is not started, or Redis cannot be reached.
        """
        if offset is not None and parse_offset(offset) is None:
            return None  # the reference rejects it: "invalid offset"
        self._ensure_started()
        client = self.link.client
        if client is None:
            raise ClusterError("the stream adapter is not started")
        key = self.session_key_prefix + pid
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.get(key)
                pipe.delete(key)
                raw, _ = await pipe.execute()
            if raw is None:
                return None
            session = decode_session(raw)
            start = offset or session.offset
            if start is None or not await self._still_kept(client, start):
                return None  # no offset, or it is no longer in the stream
            session.missed, session.offset = await self._missed_since(client, start, session)
        except (RedisError, OSError) as exc:
            raise ClusterError(f"Redis is unreachable: {exc}") from None
        except RemoteProtocolError as exc:
            self.warn("bad", "session %s not restored: %s", pid, exc)
            return None
        return session

    async def _still_kept(self, client: aioredis.Redis, offset: str) -> bool:
        """Whether the stream still holds everything after ``offset``."""
        stream = self.link.stream_name
        if offset == "0-0":
            # A socket that joined an empty stream: nothing was trimmed while it is shorter
            # than max_len (trimming never leaves fewer).
            return int(await client.xlen(stream)) < self.link.max_len
        return bool(await client.xrange(stream, offset, offset))

    async def _missed_since(
        self, client: aioredis.Redis, offset: str, session: Session
    ) -> tuple[list[list[Any]], str]:
        """The broadcast events for ``session`` after ``offset``, and the last id read."""
        missed: list[list[Any]] = []
        nsp = self.namespace.name.encode()
        for _ in range(RESTORE_MAX_XRANGE_CALLS):
            entries: Any = await client.xrange(
                self.link.stream_name, next_offset(offset), "+", count=RESTORE_XRANGE_COUNT
            )
            for raw_id, fields in entries:
                offset = raw_id.decode()
                if fields.get(b"nsp") != nsp or fields.get(b"type") != b"3":
                    continue
                try:
                    data = self._replayable(decode_entry(fields), session.rooms)
                except RemoteProtocolError:
                    continue
                if data is not None:
                    missed.append([*data, offset])
            if len(entries) < RESTORE_XRANGE_COUNT:
                break
        return missed, offset

    def _replayable(self, message: ClusterMessage, rooms: list[str]) -> list[Any] | None:
        if "requestId" in message.data:
            return None
        raw = message.data.get("packet")
        packet = decode_packet(raw, self.namespace.name)
        options = decode_options(message.data.get("opts"))
        # Volatile events got no offset when they were sent: they are not replayed.
        if not _takes_offset(raw, options) or not includes(rooms, options):
            return None
        return list(packet.data)

    def missed_packets(self, session: Session) -> list[list[Any]]:
        """The broadcasts a restored session missed, read from the stream.

        Args:
            session: The restored session.

        Returns:
            The missed events, each a list (name, arguments, offset).
        """
        start = parse_offset(session.offset or "")
        if start is None:
            return session.missed
        position = self.link.position
        # What the reader has not reached yet will be delivered live: not now.
        kept = [p for p in session.missed if (parse_offset(p[-1]) or start) <= position]
        if position > start:
            # What the reader delivered while the restore was in flight.
            if self._forgotten > start:
                self.warn("restore", "some events sent during a restore were not kept")
            kept.extend(
                item.data
                for item in self._delivered
                if start < item.offset <= position and includes(session.rooms, item.options)
            )
        return kept


def _takes_offset(raw: Any, options: BroadcastOptions) -> bool:
    """An EVENT without an ack id and not volatile (the reference's addOffsetIfNecessary)."""
    return (
        isinstance(raw, dict)
        and raw.get("type") == int(EVENT)
        and raw.get("id") is None
        and not options.flags.volatile
    )


class StreamsAdapterFactory(LinkedAdapterFactory):
    """Makes the :class:`StreamsAdapter` of each namespace; all share one :class:`StreamLink`."""

    adapter_class = StreamsAdapter


def streams_adapter(
    url: str = "redis://127.0.0.1:6379",
    *,
    stream_name: str = "socket.io",
    max_len: int = 10_000,
    read_count: int = 100,
    block_time: float = 5.0,
    channel_prefix: str = "socket.io",
    session_key_prefix: str = "sio:session:",
    requests_timeout: float = DEFAULT_TIMEOUT,
    max_outbox: int = 10_000,
    delivered_kept: int = 1000,
    health_timeout: float = 5.0,
    cluster: bool = False,
    client: Any = None,
    live_sessions: bool = False,
) -> StreamsAdapterFactory:
    """The ``adapter`` option of :class:`aiosio.Server` for a cluster over a Redis stream.

    Args:
        url: The Redis server (``redis://host:port/db``).
        stream_name: The stream every server of the cluster reads (``streamName``).
        max_len: The stream is trimmed to about this many entries (``maxLen``); a client
            whose offset was trimmed away gets a fresh session.
        read_count: Entries read per ``XREAD`` (``readCount``).
        block_time: Seconds an ``XREAD`` waits (``blockTimeInMs``).
        channel_prefix: The prefix of the pub/sub channels (``channelPrefix``).
        session_key_prefix: The prefix of the session keys (``sessionKeyPrefix``).
        requests_timeout: Seconds to wait for the other servers' answers.
        max_outbox: Writes waiting for Redis; beyond it broadcasts stay local.
        delivered_kept: Recent broadcasts kept per namespace to complete restores.
        health_timeout: Seconds Redis may leave a PING of the pub/sub link unanswered
            before the adapter counts as unhealthy.
        live_sessions: Keep each connected socket's session in Redis (written when its
            rooms change and every third of the recovery window), so that the clients of
            a server killed outright (SIGKILL, a crash) come back to another server with
            their state and what they missed. Costs a write per join and leave.
        cluster: ``url`` names a Redis Cluster (implied by several hosts in it).
        client: A ``redis.asyncio`` client (a ``RedisCluster``...) to use instead of
            connecting to ``url``; never closed by the adapter. Its socket timeout must
            exceed ``block_time``.

    Returns:
        The factory to pass as ``Server(adapter=...)``: it makes each namespace's
        :class:`StreamsAdapter`, all sharing one stream reader.
    """
    settings = LinkSettings(
        url, max_outbox=max_outbox, health_timeout=health_timeout, cluster=cluster, client=client
    )
    link = StreamLink(
        settings,
        stream_name=stream_name,
        max_len=max_len,
        read_count=read_count,
        block_time=block_time,
    )
    return StreamsAdapterFactory(
        link,
        channel_prefix=channel_prefix,
        session_key_prefix=session_key_prefix,
        requests_timeout=requests_timeout,
        delivered_kept=delivered_kept,
        live_sessions=live_sessions,
    )
