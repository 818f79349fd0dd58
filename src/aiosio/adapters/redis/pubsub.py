"""RedisAdapter: a cluster over Redis pub/sub, on the channels of ``@socket.io/redis-adapter``.

::

    io = aiosio.Server(adapter=redis_adapter(url="redis://127.0.0.1:6379"))

Python and Node servers (``createAdapter`` of ``@socket.io/redis-adapter`` 8.x) share one
cluster when they use the same Redis and key; with ``sharded=True`` the adapter speaks the
format of ``createShardedAdapter`` (Redis 7 ``SPUBLISH``/``SSUBSCRIBE``, and in the default
``subscription_mode="dynamic"`` one channel per public room, so a server only hears the rooms
it has members in). :mod:`aiosio.adapters.redis.wire` holds the formats.

All the namespaces of one factory share a :class:`RedisLink`: one connection pool, one
subscriber connection read by one task, and one writer task that publishes in order (batched
in pipelines). When Redis goes away, local delivery goes on, cluster requests fail with
:class:`~aiosio.exceptions.ClusterError`, :attr:`RedisAdapter.healthy` turns False (the
server's ``health_path`` answers 503), and the link resubscribes as soon as Redis is back.
A batch that fails on a dead pooled connection is sent once more on a fresh one. Health also
needs a PING answered within ``health_timeout`` on both connections (the subscriber and the
publisher pool): a frozen Redis keeps its sockets open and silent, and only a deadline
notices it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiosio.adapters.cluster import (
    DEFAULT_TIMEOUT,
    ClusterMessage,
    LinkedAdapter,
    LinkedAdapterFactory,
)
from aiosio.adapters.codec import decode_message, encode_message, to_json
from aiosio.adapters.redis import wire
from aiosio.adapters.redis.link import LinkSettings, RedisLink
from aiosio.exceptions import ClusterError

if TYPE_CHECKING:
    from aiosio.adapters.base import Host

__all__ = ["RedisAdapter", "RedisAdapterFactory", "redis_adapter"]

logger = logging.getLogger("aiosio.redis")


class RedisAdapter(LinkedAdapter):
    """The adapter of one namespace on a :class:`RedisLink`.

    Made by :func:`redis_adapter`'s factory, whose options are documented there.

    Args:
        namespace: The namespace served.
        link: The server's connection to Redis, shared by its namespaces.
        key: The channel prefix.
        sharded: Speak the sharded adapter's format.
        subscription_mode: With ``sharded``: ``"static"``, ``"dynamic"`` or
            ``"dynamic-private"``.
        requests_timeout: Seconds to wait for the other servers' answers.
        publish_on_specific_response_channel: Answer requests on the requester's own
            response channel.

    Raises:
        ValueError: ``subscription_mode`` is none of the three.
    """

    link: RedisLink

    def __init__(
        self,
        namespace: Host,
        link: RedisLink,
        *,
        key: str = "socket.io",
        sharded: bool = False,
        subscription_mode: str = "dynamic",
        requests_timeout: float = DEFAULT_TIMEOUT,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(namespace, link, requests_timeout=requests_timeout)
        if subscription_mode not in ("static", "dynamic", "dynamic-private"):
            raise ValueError(f"unknown subscription_mode {subscription_mode!r}")
        self.sharded = sharded
        self.subscription_mode = subscription_mode
        self.specific_responses = publish_on_specific_response_channel
        name = namespace.name
        self.classic = wire.ClassicChannels(key, name)
        # Sharded channels (createShardedAdapter): main, per-server responses, per room.
        self.channel = f"{key}#{name}#"
        self.response_channel = f"{self.channel}{self.uid}#"

    async def _subscribe(self) -> None:
        self.link.acquire()
        link = self.link
        if self.sharded:
            await link.subscribe("shard", self.channel, self._on_sharded)
            await link.subscribe("shard", self.response_channel, self._on_sharded)
            for room in list(self.rooms):
                await self._room_created(room)
        else:
            await link.subscribe("pattern", self.classic.broadcast + "*", self._on_broadcast)
            await link.subscribe("channel", self.classic.request, self._on_request)
            await link.subscribe("channel", self.classic.response, self._on_response)
            await link.subscribe("channel", self.classic.response_to(self.uid), self._on_response)

    async def _unsubscribe(self) -> None:
        link = self.link
        if self.sharded:
            await link.unsubscribe("shard", self.channel)
            await link.unsubscribe("shard", self.response_channel)
            for room in list(self.rooms):
                if self._separate(room):
                    await link.unsubscribe("shard", self._room_channel(room))
        else:
            await link.unsubscribe("pattern", self.classic.broadcast + "*")
            await link.unsubscribe("channel", self.classic.request)
            await link.unsubscribe("channel", self.classic.response)
            await link.unsubscribe("channel", self.classic.response_to(self.uid))
        await link.release()

    # -- ClusterAdapter backend ---------------------------------------------------------

    def publish(self, message: ClusterMessage, *, to: str | None = None) -> None:
        """Publish a cluster message to the other servers.

        Args:
            message: The message.
            to: The uid of one server to answer, or None for all of them.
        """
        self._ensure_started()
        if self.sharded:
            channel = f"{self.channel}{to}#" if to is not None else self._sharded_channel(message)
            self.link.publish(channel, encode_message(message), shard=True)
            return
        target = to if self.specific_responses else None
        channel, payload = wire.encode_classic(message, self.classic, to=target)
        self.link.publish(channel, payload)

    async def server_count(self) -> int:
        """How many servers listen on the namespace's channel (this one included).

        Returns:
            The count Redis gives (``PUBSUB NUMSUB``, or ``SHARDNUMSUB`` when sharded).
        """
        self._ensure_started()
        if self.sharded:
            return await self.link.numsub(self.channel, shard=True)
        return await self.link.numsub(self.classic.request)

    # -- classic receiving --------------------------------------------------------------

    def _on_broadcast(self, channel: bytes, data: bytes) -> None:
        room = channel[len(self.classic.broadcast) : -1].decode(errors="replace")
        if room and room not in self.rooms:
            return  # nobody here is in that room: skip decoding, as the reference does
        self.on_message(wire.decode_classic_broadcast(data, self.namespace.name))

    def _on_request(self, channel: bytes, data: bytes) -> None:
        request = wire.decode_classic_request(data, self.namespace.name)
        if isinstance(request, ClusterMessage):
            self.on_message(request)
            return
        # The two requests the cluster protocol lacks (allRooms() of a Node server).
        request_id, kind = request.get("requestId"), request.get("type")
        if request_id is None or request.get("uid") == self.uid:
            return
        if kind == 1:
            answer: dict[str, Any] = {"requestId": request_id, "rooms": sorted(self.rooms)}
        elif kind == 0:
            rooms = request.get("rooms")
            names = [r for r in rooms if isinstance(r, str)] if isinstance(rooms, list) else []
            answer = {"requestId": request_id, "sockets": sorted(self.sockets(names))}
        else:
            return
        uid = request.get("uid")
        specific = self.specific_responses and isinstance(uid, str)
        channel_out = self.classic.response_to(str(uid)) if specific else self.classic.response
        with contextlib.suppress(ClusterError):
            self.link.publish(channel_out, to_json(answer))

    def _on_response(self, channel: bytes, data: bytes) -> None:
        response = wire.decode_classic_response(data, self.namespace.name)
        if response is not None:
            self.on_response(response)

    # -- sharded receiving and dynamic room channels -----------------------------------

    def _on_sharded(self, channel: bytes, data: bytes) -> None:
        message = decode_message(data)
        if channel == self.response_channel.encode():
            if message.nsp == self.namespace.name:
                self.on_response(message)
        else:
            self.on_message(message)

    def _room_channel(self, room: str) -> str:
        return f"{self.channel}{room}#"

    def _separate(self, room: str) -> bool:
        """Whether a room has a channel of its own (createShardedAdapter's rule)."""
        if self.subscription_mode == "dynamic-private":
            return True
        return self.subscription_mode == "dynamic" and room not in self.sids

    def _sharded_channel(self, message: ClusterMessage) -> str:
        # Broadcasts with acks stay on the main channel: server_count() counts every server.
        data = message.data
        if message.type != 3 or "requestId" in data:
            return self.channel
        rooms = data["opts"]["rooms"]
        if len(rooms) != 1:
            return self.channel
        room = rooms[0]
        if self.subscription_mode == "dynamic-private" or (
            self.subscription_mode == "dynamic" and len(room) != 20  # not a socket id
        ):
            return self._room_channel(room)
        return self.channel

    async def _room_created(self, room: str) -> None:
        if self._separate(room):
            await self.link.subscribe("shard", self._room_channel(room), self._on_sharded)

    def add_all(self, sid: str, rooms: Any) -> None:
        """Add a socket to rooms; with sharded dynamic channels, subscribe to new rooms.

        Args:
            sid: The socket id.
            rooms: The rooms to join.
        """
        self._ensure_started()
        rooms = list(rooms)
        new = [room for room in rooms if room not in self.rooms]
        super().add_all(sid, rooms)
        if self.sharded and self._started and self.subscription_mode != "static":
            for room in new:
                if room in self.rooms and self._separate(room):
                    self._spawn(self._room_created(room))

    def _leave(self, sid: str, room: str) -> None:
        super()._leave(sid, room)
        # Unsubscribing a channel never subscribed (a socket's own room) does nothing.
        dynamic = self.sharded and self.subscription_mode != "static"
        if dynamic and self._started and room not in self.rooms:
            self._spawn(self.link.unsubscribe("shard", self._room_channel(room)))


class RedisAdapterFactory(LinkedAdapterFactory):
    """Makes the :class:`RedisAdapter` of each namespace; all share one :class:`RedisLink`."""

    adapter_class = RedisAdapter


def redis_adapter(
    url: str = "redis://127.0.0.1:6379",
    *,
    key: str = "socket.io",
    sharded: bool = False,
    subscription_mode: str = "dynamic",
    requests_timeout: float = DEFAULT_TIMEOUT,
    publish_on_specific_response_channel: bool = False,
    max_message_size: int = 32 * 1024 * 1024,
    max_outbox: int = 10_000,
    health_timeout: float = 5.0,
    cluster: bool = False,
    client: Any = None,
) -> RedisAdapterFactory:
    """The ``adapter`` option of :class:`aiosio.Server` for a cluster over Redis.

    Args:
        url: The Redis server (``redis://host:port/db``).
        key: The channel prefix (``key`` of createAdapter, ``channelPrefix`` of
            createShardedAdapter); every server of a cluster uses the same.
        sharded: Speak createShardedAdapter's format over ``SPUBLISH``/``SSUBSCRIBE``.
        subscription_mode: With ``sharded``: ``"static"`` (one channel per namespace),
            ``"dynamic"`` (plus one per public room) or ``"dynamic-private"`` (every room).
        requests_timeout: Seconds to wait for the other servers' answers.
        publish_on_specific_response_channel: Answer requests on the requester's own
            response channel (createAdapter's option of the same name).
        max_message_size: Larger messages from Redis are dropped.
        max_outbox: Messages waiting for Redis; beyond it publishing fails.
        health_timeout: Seconds Redis may leave a PING unanswered (on the subscriber or
            the publisher connection) before the adapter counts as unhealthy.
        cluster: ``url`` names a Redis Cluster (implied by several hosts in it, as in
            ``redis://h1:7000,h2:7001``); use ``sharded=True`` to share it with Node's
            sharded adapter.
        client: A ``redis.asyncio`` client (a ``RedisCluster``...) to use instead of
            connecting to ``url``; never closed by the adapter.

    Returns:
        The factory to pass as ``Server(adapter=...)``: it makes each namespace's
        :class:`RedisAdapter`, all sharing one :class:`RedisLink`.
    """
    settings = LinkSettings(
        url,
        max_message_size=max_message_size,
        max_outbox=max_outbox,
        health_timeout=health_timeout,
        cluster=cluster,
        client=client,
    )
    return RedisAdapterFactory(
        RedisLink(settings),
        key=key,
        sharded=sharded,
        subscription_mode=subscription_mode,
        requests_timeout=requests_timeout,
        publish_on_specific_response_channel=publish_on_specific_response_channel,
    )
