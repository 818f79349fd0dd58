"""The shard channels of a Redis Cluster (``SSUBSCRIBE``): one subscriber connection per
primary serving one of them, each read by a task of its own, as node-redis (under Node's
sharded adapter) reads them.

redis-py's ``ClusterPubSub`` reads its per-node connections one after another, from the
one task that calls ``get_sharded_message``, each for a share of the timeout and holding
that node's lock meanwhile. A message then waits while the reader idles on another
node's connection, and an ``SSUBSCRIBE`` waits until its node's turn ends: on a cluster of
three primaries a room's broadcasts reached the other servers in bursts, half a second
apart, and a room joined was heard up to a second later.

Each channel is subscribed on the primary the cluster client's slot map names, and
:meth:`ShardSubscriber.subscribe` returns once Redis confirmed it. Redis unsubscribes a
channel itself when its slot moves or its primary steps down: the map is read again and
the channel subscribed on its new owner (a ``MOVED`` answer does the same). A connection
that fails fails the whole subscriber (:attr:`ShardSubscriber.failed`); the link then
subscribes everything again, on a map read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import MovedError, RedisClusterException, RedisError

from aiosio._tasks import spawn, stop
from aiosio.adapters.redis import topology

__all__ = ["FAILURES", "ShardSubscriber"]

logger = logging.getLogger("aiosio.redis")

FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError)
"""What subscribing on a cluster may raise: Redis errors, an uncovered slot, a socket's."""


def _future() -> asyncio.Future[None]:
    """A future whose failure counts as seen even when nobody waits for it any more."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    return future


@dataclass
class _Node:
    """The subscriber connection to one primary, and the task reading it."""

    client: Any
    pubsub: Any
    reader: asyncio.Task[Any] | None = None


class ShardSubscriber:
    """Shard channels subscribed on the primaries serving them (see the module).

    ``deliver`` gets every message read (``smessage``, the ``ssubscribe`` confirmations
    and the ``sunsubscribe`` Redis sends by itself) but the answers to its own PINGs and
    ``SUNSUBSCRIBE``.
    """

    def __init__(
        self, client: Any, deliver: Callable[[dict[str, Any]], None], *, confirm_timeout: float
    ) -> None:
        self.client = client
        self.confirm_timeout = confirm_timeout
        self.failed = _future()  # set to the first failure of a connection
        self._deliver = deliver
        self._nodes: dict[str, _Node] = {}
        self._wanted: set[bytes] = set()
        self._where: dict[bytes, str] = {}  # channel -> the node its SSUBSCRIBE went to
        self._confirmed: dict[bytes, asyncio.Future[None]] = {}  # until Redis answers
        self._leaving: Counter[bytes] = Counter()  # SUNSUBSCRIBEs sent, not yet answered
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()  # one change of the connections at a time
        self._tasks: set[asyncio.Task[Any]] = set()

    async def subscribe(self, channels: Iterable[bytes]) -> None:
        """Subscribe to ``channels``, each on the primary serving its slot, and wait until
        Redis confirmed every one.

        Raises:
            RedisError, RedisClusterException, OSError: A node could not be reached, or a
                slot is served by none.
            TimeoutError: Redis did not confirm within ``confirm_timeout`` seconds.
        """
        waits = []
        async with self._lock:
            await self.client.initialize()  # reads the slot map the first time only
            for channel in channels:
                self._wanted.add(channel)
                confirmed = self._confirmed.get(channel)
                if channel not in self._where:  # new, or no longer where it was sent
                    if confirmed is None or confirmed.done():
                        confirmed = self._confirmed[channel] = _future()
                    node = self.client.get_node_from_key(channel)
                    pubsub = await self._pubsub(node)
                    self._where[channel] = node.name
                    await pubsub.ssubscribe(channel)
                if confirmed is not None:
                    waits.append(confirmed)
        if waits:
            async with asyncio.timeout(self.confirm_timeout):
                await asyncio.wait(waits)  # wait() leaves them to the other waiters
            for confirmed in waits:
                confirmed.result()

    async def unsubscribe(self, *channels: bytes) -> None:
        """Stop hearing ``channels`` (a node's connection closes when it hears no other)."""
        self._wanted.difference_update(channels)
        async with self._lock:
            for channel in channels:
                name = self._where.pop(channel, None)
                node = self._nodes.get(name) if name is not None else None
                if node is not None:
                    self._leaving[channel] += 1
                    await node.pubsub.sunsubscribe(channel)

    async def ping(self) -> None:
        """PING every connection, and wait until its reader saw each answer."""
        pongs = {}
        try:
            for node in list(self._nodes.values()):
                token = secrets.token_hex(8).encode()
                pongs[token] = self._pongs[token] = _future()
                await node.pubsub.ping(token)
            for pong in pongs.values():
                await pong
        finally:
            for token in pongs:
                self._pongs.pop(token, None)

    async def check(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds, raising what failed the subscriber if it fails."""
        await asyncio.wait([self.failed], timeout=timeout)
        if self.failed.done():
            self.failed.result()

    async def close(self) -> None:
        """Stop the readers and close every connection."""
        nodes, self._nodes = list(self._nodes.values()), {}
        try:
            await stop(self._tasks, logger)
        finally:
            for node in nodes:
                await self._close_node(node)

    # -- connections --------------------------------------------------------------------

    async def _pubsub(self, node: Any) -> Any:
        """The connection to ``node`` (a ``ClusterNode``), opened and read from now on."""
        known = self._nodes.get(node.name)
        if known is not None:
            return known.pubsub
        # No retry of its own: a failure is the link's to handle (on a new slot map).
        options = {**node.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
        pool = aioredis.ConnectionPool(
            connection_class=node.connection_class, max_connections=1, **options
        )
        client = aioredis.Redis.from_pool(pool)
        opened = _Node(client, client.pubsub())
        try:
            await opened.pubsub.connect()
        except BaseException:
            await self._close_node(opened)
            raise
        self._nodes[node.name] = opened
        opened.reader = spawn(
            self._read(node.name, opened.pubsub), self._tasks, logger, "Redis shard reader failed"
        )
        return opened.pubsub

    @staticmethod
    async def _close_node(node: _Node) -> None:
        with contextlib.suppress(Exception):
            await node.pubsub.aclose()
        with contextlib.suppress(Exception):
            await node.client.aclose()

    async def _retire(self, name: str) -> None:
        """Close the connection to a node that no longer serves a channel of ours."""
        async with self._lock:
            node = self._nodes.get(name)
            if node is None or node.pubsub.subscribed or name in self._where.values():
                return
            del self._nodes[name]
        try:
            if node.reader is not None:
                await stop([node.reader], logger)
        finally:
            await self._close_node(node)

    # -- reading ------------------------------------------------------------------------

    async def _read(self, name: str, pubsub: Any) -> None:
        try:
            while True:
                try:
                    message = await pubsub.get_message(timeout=None)
                except MovedError as moved:  # an SSUBSCRIBE sent on an old slot map
                    self._drop(name, self._in_slot(name, moved.slot_id))
                    continue
                if message is not None:
                    self._seen(name, message)
        except (RedisError, OSError) as exc:
            self._fail(exc)

    def _seen(self, name: str, message: dict[str, Any]) -> None:
        kind, channel, data = message.get("type"), message.get("channel"), message.get("data")
        if kind == "pong":
            pong = self._pongs.get(data) if isinstance(data, bytes) else None
            if pong is not None and not pong.done():
                pong.set_result(None)
            return
        if not isinstance(channel, bytes):
            return
        if kind == "ssubscribe":
            confirmed = self._confirmed.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif kind == "sunsubscribe":
            if self._leaving[channel] > 0:  # the answer to ours
                self._leaving[channel] -= 1
                if not self._leaving[channel]:
                    del self._leaving[channel]
                self._spawn(self._retire(name))
                return
            if self._where.get(channel) != name:
                return
            self._drop(name, [channel])  # Redis's own: the slot left this primary
        self._deliver(message)

    def _in_slot(self, name: str, slot: int) -> list[bytes]:
        """The channels subscribed on node ``name`` whose slot is ``slot``."""
        return [c for c, where in self._where.items() if where == name and key_slot(c) == slot]

    def _drop(self, name: str, channels: list[bytes]) -> None:
        """``channels`` are no longer served by node ``name``: forget them there (a
        reconnection would subscribe them again) and subscribe them where they are now."""
        node = self._nodes.get(name)
        for channel in channels:
            del self._where[channel]
            if node is not None:
                node.pubsub.shard_channels.pop(channel, None)
        if channels:
            self._spawn(self._follow(channels))
        self._spawn(self._retire(name))

    async def _follow(self, channels: list[bytes]) -> None:
        await topology.refresh(self.client)
        try:
            await self.subscribe([channel for channel in channels if channel in self._wanted])
        except FAILURES as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if not self.failed.done():
            self.failed.set_exception(exc)
        for confirmed in self._confirmed.values():
            if not confirmed.done():
                confirmed.set_exception(exc)

    def _spawn(self, coro: Any) -> None:
        spawn(coro, self._tasks, logger, "Redis shard task failed")
