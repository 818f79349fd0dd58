"""The Redis connection a cluster shares: one pool, one subscriber read by one task, and
one writer task that publishes in order, batched in pipelines.

A batch that fails on a dead pooled connection is sent once more on a fresh one (the first
publish after a Redis restart is not lost). Health needs a PING answered within
``health_timeout`` on both connections: a frozen Redis keeps its sockets open and silent,
and only a deadline notices it. The adapters (:mod:`.pubsub`, :mod:`.streams`) and the
emitter build on it; the package :mod:`aiosio.adapters.redis` is the only place of aiosio
that imports ``redis``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from aiosio._tasks import wind_down
from aiosio.adapters.redis import topology
from aiosio.adapters.redis.shards import FAILURES, ShardSubscriber
from aiosio.adapters.redis.writing import (
    BATCH,
    connect,
    publish_all,
    run_pipeline,
    write_in_order,
)
from aiosio.exceptions import ClusterError, RemoteProtocolError

__all__ = [
    "BATCH",
    "FLUSH_TIMEOUT",
    "LinkSettings",
    "RedisError",
    "RedisLink",
    "connect",
    "publish_all",
    "run_pipeline",
    "write_in_order",
]

logger = logging.getLogger("aiosio.redis")

Handler = Callable[[bytes, bytes], None]  # (channel, payload)
_KINDS = ("channel", "pattern", "shard")
_PREFIXES = {"channel": "", "pattern": "p", "shard": "s"}  # of (un)subscribe, by kind


FLUSH_TIMEOUT = 2.0
"""The longest a closing link waits for Redis to take what was queued before the close."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How a link talks to Redis: built once by an adapter factory, read by its links.

    Attributes:
        url: The Redis server (``redis://host:port/db``), cluster (``redis://h1:p1,h2:p2``)
            or Sentinel service (``redis+sentinel://h1:p1,h2:p2/service``).
        max_message_size: Larger messages from Redis are dropped.
        max_outbox: Messages waiting for Redis; beyond it publishing fails.
        max_retry_delay: The longest wait between attempts to subscribe again.
        health_timeout: Seconds Redis may leave a PING unanswered before the link counts
            as unhealthy.
        cluster: ``url`` names a Redis Cluster (implied by several hosts).
        client: A ``redis.asyncio`` client to use instead of connecting to ``url`` (a
            ``RedisCluster`` for one); the link never closes it.
    """

    url: str
    _: KW_ONLY
    max_message_size: int = 32 * 1024 * 1024
    max_outbox: int = 10_000
    max_retry_delay: float = 0.5
    health_timeout: float = 5.0
    cluster: bool = False
    client: Any = field(default=None, compare=False)

    def connect(self, **options: Any) -> Any:
        """The given client, or a new one for ``url``.

        Args:
            **options: Passed to :func:`connect` (the ``naming`` of the connections).

        Returns:
            The client given as ``client``, or a new client.
        """
        if self.client is not None:
            return self.client
        return connect(self.url, cluster=self.cluster, **options)

    def naming(self, name: str) -> dict[str, Any]:
        """The option of :meth:`connect` that names the connections.

        Args:
            name: The name ``CLIENT LIST`` shows.

        Returns:
            The keyword arguments to pass to :meth:`connect`.
        """
        return {"client_name": name}


class RedisLink:
    """One subscriber connection and one ordered publisher, shared by many adapters.

    Every connection it opens is named :attr:`name` (``aiosio:`` and 12 hex digits, as
    ``CLIENT LIST`` shows it), so that an operator can tell which connections are whose.

    Args:
        settings: How to reach Redis and the limits of the link.
    """

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self.name = f"aiosio:{secrets.token_hex(6)}"
        self.subscribed = False
        self.responsive = True  # the last PINGs were answered in time (see _watch)
        self.client: Any = None
        self.dropped = 0  # messages that could not be published (each batch logged)
        self.loss_windows = 0  # shard channels unsubscribed by Redis and subscribed again
        self.loss_seconds = 0.0  # the time they spent unsubscribed, in all
        self._lost: dict[bytes, float] = {}  # shard channel -> when Redis unsubscribed it
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._subscriptions = 0  # how many times the reader subscribed
        self._handlers: dict[str, dict[bytes, Handler]] = {kind: {} for kind in _KINDS}
        self._pubsub: Any = None
        self._shards: ShardSubscriber | None = None  # on a Redis Cluster
        self._outbox: deque[tuple[str, bytes, bool]] = deque()
        self._in_flight = 0  # messages of the batch being sent (unconfirmed if cancelled)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # the writer has sent everything queued
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._users = 0
        self._closing = False
        self._last_warning: dict[str, float] = {}

    def _warn(self, kind: str, text: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(kind, -1e9) >= 10.0:
            self._last_warning[kind] = now
            logger.warning(text, *args)

    # -- life cycle ---------------------------------------------------------------------

    def acquire(self) -> None:
        """An adapter starts using the link (the first one starts it)."""
        self._users += 1
        if self.client is None:
            self._ready = asyncio.Event()  # of the running loop
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
            self._idle.set()
            self.client = self.settings.connect(**self.settings.naming(self.name))
            loop = asyncio.get_running_loop()
            writer = write_in_order(self._wake, self._outbox, self._send, self._idle.set)
            self._tasks = [
                loop.create_task(self._read()),
                loop.create_task(writer),
                loop.create_task(self._watch()),
            ]

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until the link is healthy (subscribed, and Redis answers).

        Args:
            timeout: The most seconds to wait.

        Returns:
            Whether the link is healthy; False once ``timeout`` passed.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        return self.healthy

    async def release(self) -> None:
        """An adapter stops using the link (the last one closes it).

        The last one first gives Redis up to :data:`FLUSH_TIMEOUT` seconds to take what
        was published before (the messages still queued after it are counted in
        ``dropped`` and logged), then stops the link's tasks and closes its connections,
        even when this close is itself cancelled.
        """
        self._users -= 1
        if self._users > 0 or self.client is None:
            return
        self._closing = True  # publish() refuses from now on
        tasks, self._tasks = self._tasks, []
        await wind_down(self._idle, tasks, self._close_client, logger, flush_timeout=FLUSH_TIMEOUT)

    async def _close_client(self) -> None:
        client, self.client = self.client, None
        self._set_subscribed(False)
        self._lost.clear()
        unsent = len(self._outbox) + self._in_flight
        self._outbox.clear()
        self._in_flight = 0
        if unsent:
            self.dropped += unsent
            logger.warning("%d messages not sent (or not confirmed) by Redis at close", unsent)
        self._idle.set()
        try:
            if client is not self.settings.client:
                await topology.close(client)
        finally:
            self._closing = False

    @property
    def healthy(self) -> bool:
        """Subscribed (every shard channel included), and Redis answered the last PINGs of
        both connections in time."""
        return self.subscribed and self.responsive and not self._lost

    def _set_subscribed(self, subscribed: bool) -> None:
        if subscribed != self.subscribed:
            self.subscribed = subscribed
            self._report(
                subscribed, "subscribed to Redis at %s", "lost the Redis subscription at %s"
            )
        if subscribed:
            self._subscriptions += 1
            self.responsive = True  # it just answered every SUBSCRIBE
            self._ready.set()
        else:
            self._ready.clear()

    def _set_responsive(self, responsive: bool) -> None:
        if responsive and self.subscribed:
            self._ready.set()
        elif not responsive:
            self._ready.clear()  # wait_ready waits for the answers too
        if responsive != self.responsive:
            self.responsive = responsive
            self._report(
                responsive,
                "Redis at %s answers again",
                "Redis at %s did not answer a PING within %.1f s (frozen or overloaded)",
                self.settings.health_timeout,
            )

    def _report(self, up: bool, up_text: str, down_text: str, *args: Any) -> None:
        """Log a change of health: coming up as info, going down (unless closing) as a
        warning; ``%s`` in the texts is the URL."""
        if up:
            logger.info(up_text, self.settings.url)
        elif not self._closing:
            logger.warning(down_text, self.settings.url, *args)

    # -- the health watch ---------------------------------------------------------------

    async def _watch(self) -> None:
        """PING both connections every half deadline; each PING may take half a deadline.

        So a Redis that stops answering is noticed within ``health_timeout`` of its last
        answer. A socket stays open while Redis is frozen (SIGSTOP, a stuck host): only
        the missing answers tell.
        """
        loop = asyncio.get_running_loop()
        half = self.settings.health_timeout / 2
        while True:
            started = loop.time()
            if self.subscribed:
                subscription = self._subscriptions
                answered = await self._answers(half)
                # PINGs sent before the subscription came back say nothing of the new one.
                if subscription == self._subscriptions:
                    self._set_responsive(answered)
            await asyncio.sleep(max(0.0, started + half - loop.time()))

    async def _answers(self, deadline: float) -> bool:
        """Whether the subscriber and the publisher pool both answer a PING in time."""
        try:
            async with asyncio.timeout(deadline):
                await self._ping_subscription()
                await self._ping_pool()
        except (TimeoutError, RedisError, OSError):
            return False
        return True

    async def _ping_subscription(self) -> None:
        """A PING on the subscriber connection, answered through the reader task.

        Its pong comes in among the messages, so the reader resolves it by its token.
        """
        pubsub = self._pubsub
        if pubsub is None:
            raise RedisConnectionError("not subscribed")
        if self._shards is not None:
            await self._shards.ping()  # the connection of each node, read apart
            if not pubsub.subscribed:
                return
        await self._pong(pubsub)

    async def _pong(self, pubsub: Any) -> None:
        """A PING on the subscriber connection, and its answer, which the reader task
        finds among the messages by its token. Redis answers a connection's commands in
        order: the (S)SUBSCRIBEs sent before it are in force once it is answered."""
        token = secrets.token_hex(8).encode()
        pong: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[token] = pong
        try:
            await pubsub.ping(token)
            await pong
        finally:
            self._pongs.pop(token, None)

    async def _ping_pool(self) -> None:
        """A PING on a pooled connection; one dead pooled connection is not an outage."""
        assert self.client is not None
        try:
            await self.client.ping()
        except (RedisConnectionError, OSError):
            await topology.refresh(self.client)
            await self.client.ping()

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(self, kind: str, name: str, handler: Handler) -> None:
        """Hear a channel, a pattern or a shard channel.

        Args:
            kind: ``"channel"``, ``"pattern"`` or ``"shard"``.
            name: The channel or the pattern.
            handler: Called as ``handler(channel, payload)`` with each message.
        """
        key = name.encode()
        self._handlers[kind][key] = handler
        await self._command(kind, True, key)

    async def unsubscribe(self, kind: str, name: str) -> None:
        """Stop listening to a channel.

        Args:
            kind: The subscription command family (``subscribe``, ``psubscribe``, ``ssubscribe``).
            name: The channel or pattern.
        """
        key = name.encode()
        if self._handlers[kind].pop(key, None) is not None:
            self._lost.pop(key, None)  # a channel no longer wanted keeps nothing unhealthy
            await self._command(kind, False, key)

    async def _command(self, kind: str, on: bool, *keys: bytes) -> None:
        pubsub, shards = self._pubsub, self._shards
        if pubsub is None or not keys:
            return  # the reader subscribes to everything registered when it (re)connects
        if kind == "shard" and shards is not None:
            try:
                if on:
                    await shards.subscribe(keys)  # and confirmed
                else:
                    await shards.unsubscribe(*keys)
            except FAILURES as exc:
                self._warn("sub", "Redis (un)subscribe failed: %s", exc)
            return
        prefix = _PREFIXES[kind]
        method = getattr(pubsub, f"{prefix}{'subscribe' if on else 'unsubscribe'}")
        try:
            await method(*keys)
            if on:  # return once Redis confirmed it
                async with asyncio.timeout(self.settings.health_timeout):
                    await self._pong(pubsub)
        except FAILURES as exc:
            self._warn("sub", "Redis (un)subscribe failed: %s", exc)

    async def _read(self) -> None:
        delay = 0.05
        assert self.client is not None
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=not self._cluster)
            shards = None
            if self._cluster:  # shard channels are read from a connection per node
                timeout = self.settings.health_timeout
                shards = ShardSubscriber(self.client, self._deliver, confirm_timeout=timeout)
            try:
                self._pubsub, self._shards = pubsub, shards
                for kind in _KINDS:
                    keys = list(self._handlers[kind])
                    if kind == "shard" and shards is not None:
                        await shards.subscribe(keys)
                    elif keys:
                        await getattr(pubsub, f"{_PREFIXES[kind]}subscribe")(*keys)
                if shards is None or pubsub.subscribed:
                    await self._answered(pubsub)  # healthy once the subscriptions are in force
                self._set_subscribed(True)
                delay = 0.05
                await self._listen(pubsub, shards)
            except FAILURES as exc:
                self._warn("read", "Redis subscription failed: %s", exc)
                await topology.refresh(self.client)
            finally:
                self._pubsub = self._shards = None
                self._set_subscribed(False)
                try:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]
                finally:
                    if shards is not None:
                        await shards.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.max_retry_delay)

    async def _answered(self, pubsub: Any) -> None:
        """:meth:`_pong` before the reader runs: read here until the answer comes, handing
        on what comes before it."""
        reading = asyncio.get_running_loop().create_task(self._pong(pubsub))
        try:
            async with asyncio.timeout(self.settings.health_timeout):
                while not reading.done():
                    message = await pubsub.get_message(timeout=0.1)
                    if message is not None:
                        self._deliver(message)
        finally:
            reading.cancel()  # a timeout's: the PING's answer never came
            await asyncio.wait([reading])
        reading.result()

    async def _listen(self, pubsub: Any, shards: ShardSubscriber | None) -> None:
        """Hand what Redis sends to :meth:`_deliver` until a connection fails."""
        while True:
            if shards is None or pubsub.subscribed:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._deliver(message)
            if shards is not None:
                await shards.check(0.0 if pubsub.subscribed else 1.0)

    @property
    def _cluster(self) -> bool:
        return isinstance(self.client, RedisCluster)

    def _moved(self, kind: Any, channel: Any) -> None:
        """Redis unsubscribed a shard channel this link still wants (its slot moved, or
        its node failed over), and the :class:`ShardSubscriber` subscribed it again on
        its new owner: count and log the time it was off, during which what was
        published to it was lost (the link is unhealthy meanwhile)."""
        if not isinstance(channel, bytes) or channel not in self._handlers["shard"]:
            return
        now = time.monotonic()
        if kind == "sunsubscribe" and not self._closing:
            self._lost.setdefault(channel, now)
        elif kind == "ssubscribe" and channel in self._lost:
            window = now - self._lost.pop(channel)
            self.loss_windows += 1
            self.loss_seconds += window
            logger.warning(
                "shard channel %r was unsubscribed by Redis for %.0f ms (slot moved or "
                "failed over): what was published to it meanwhile is lost",
                channel,
                window * 1000,
            )

    def _deliver(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel, data = message.get("channel"), message.get("data")
        if kind in ("sunsubscribe", "ssubscribe"):
            self._moved(kind, channel)
            return
        if kind == "pong":
            pong = self._pongs.get(data) if isinstance(data, bytes) else None
            if pong is not None and not pong.done():
                pong.set_result(None)
            return
        if not isinstance(channel, bytes) or not isinstance(data, bytes):
            return
        if kind == "pmessage":
            handler = self._handlers["pattern"].get(message.get("pattern") or b"")
        elif kind == "smessage":
            handler = self._handlers["shard"].get(channel)
        else:
            handler = self._handlers["channel"].get(channel)
        if handler is None:
            return
        if len(data) > self.settings.max_message_size:
            self._warn("size", "dropped a %d-byte message on %r", len(data), channel)
            return
        try:
            handler(channel, data)
        except RemoteProtocolError as exc:
            self._warn("bad", "dropped a malformed message on %r: %s", channel, exc)
        except Exception:
            logger.exception("handler of %r failed", channel)

    # -- publishing and counting --------------------------------------------------------

    def publish(self, channel: str, payload: bytes, *, shard: bool = False) -> None:
        """Queue a message; the writer task publishes queued messages in order.

        Args:
            channel: Where to publish.
            payload: The encoded message.
            shard: Publish with ``SPUBLISH`` (a shard channel).

        Raises:
            ClusterError: While the link is down or closing, or when the queue is full.
        """
        if self._closing:
            raise ClusterError("the Redis link is closing")
        if not self.healthy:
            raise ClusterError("Redis is unreachable (the subscription is down)")
        if len(self._outbox) >= self.settings.max_outbox:
            raise ClusterError("too many messages waiting for Redis")
        self._outbox.append((channel, payload, shard))
        self._idle.clear()
        self._wake.set()

    async def _send(self, batch: list[tuple[str, bytes, bool]]) -> None:
        """Publish ``batch`` in one pipeline (see :func:`run_pipeline` for the retry)."""
        assert self.client is not None
        self._in_flight = len(batch)
        try:
            await run_pipeline(self.client, lambda pipe: publish_all(pipe, batch))
        except (RedisError, OSError) as exc:
            self.dropped += len(batch)
            self._warn("write", "dropped %d messages to Redis: %s", len(batch), exc)
        self._in_flight = 0  # still set if the close cancelled the send

    async def numsub(self, channel: str, *, shard: bool = False) -> int:
        """How many connections subscribe to ``channel`` (``PUBSUB [SHARD]NUMSUB``).

        Args:
            channel: The channel.
            shard: Count the subscribers of a shard channel.

        Returns:
            The count, summed over the primaries on a Redis Cluster.

        Raises:
            ClusterError: When Redis cannot be asked.
        """
        if self.client is None or not self.healthy:
            raise ClusterError("Redis is unreachable (the subscription is down)")
        try:
            # On a cluster: summed over the primaries, as the Node adapter counts.
            where = {"target_nodes": RedisCluster.PRIMARIES} if self._cluster else {}
            if shard:
                reply = await self.client.pubsub_shardnumsub(channel, **where)
            else:
                reply = await self.client.pubsub_numsub(channel, **where)
        except (RedisError, OSError) as exc:
            raise ClusterError(f"Redis is unreachable: {exc}") from None
        return int(reply[0][1]) if reply else 0
