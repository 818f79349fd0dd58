"""aiosio.adapters.redis.shards: shard channels on a real Redis Cluster (three primaries
and their replicas on private ports), one connection per primary, each read apart.

Each test's channels are picked so that their slots fall on the primaries it needs, and
Redis is asked (``PUBSUB SHARDNUMSUB`` on a node, ``CLIENT LIST``) what is subscribed
where. Waits are on events, bounded.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from aiosio.adapters.redis.link import LinkSettings, RedisLink
from aiosio.adapters.redis.shards import ShardSubscriber
from aiosio.adapters.redis.topology import connect
from tests.adapters.cluster_support import eventually_async
from tests.support.redis_topologies import RedisCluster
from tests.support.waits import Watch, within


def channel_on(cluster: RedisCluster, port: int, key: str) -> bytes:
    """A channel named after ``key`` whose slot the primary on ``port`` serves."""
    for n in itertools.count():
        channel = f"{key}#{n}#".encode()
        if cluster.owner(key_slot(channel)) == port:
            return channel
    raise AssertionError("unreachable")


async def subscribers(port: int, channel: bytes) -> int:
    """How many connections the node on ``port`` has subscribed to ``channel``."""
    async with aioredis.Redis(port=port) as node:
        reply = await node.execute_command("PUBSUB", "SHARDNUMSUB", channel)
    return int(reply[1])


async def named(port: int, name: str) -> int:
    """How many connections named ``name`` the node on ``port`` has."""
    async with aioredis.Redis(port=port) as node:
        return sum(c.get("name") == name for c in await node.client_list())


class Heard:
    """What a :class:`ShardSubscriber` delivers, with a :class:`Watch` to wait on it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.watch = Watch()

    def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.watch.poke()

    def of(self, kind: str) -> list[tuple[bytes, Any]]:
        return [(m["channel"], m["data"]) for m in self.messages if m["type"] == kind]


@pytest.fixture
async def shards(
    redis_cluster: RedisCluster, key: str
) -> AsyncIterator[tuple[ShardSubscriber, Heard]]:
    client = connect(redis_cluster.url, client_name=key)
    heard = Heard()
    subscriber = ShardSubscriber(client, heard, confirm_timeout=5)
    try:
        yield subscriber, heard
    finally:
        await subscriber.close()
        await client.aclose()


async def test_a_link_hears_each_primary_as_its_messages_come(
    redis_cluster: RedisCluster, key: str
) -> None:
    """The bug this module fixes: redis-py's ClusterPubSub read the nodes' connections one
    after another, blocking on each in turn, so a message on one waited (up to a second)
    while the reader idled on another, and SSUBSCRIBE waited for its node's turn."""
    channels = [channel_on(redis_cluster, port, key) for port in redis_cluster.primaries]
    got: list[tuple[bytes, bytes]] = []
    watch = Watch()
    link = RedisLink(LinkSettings(redis_cluster.url))
    link.acquire()
    try:
        for channel in channels:
            await link.subscribe(
                "shard", channel.decode(), lambda c, d: got.append((c, d)) or watch.poke()
            )
        assert await link.wait_ready(5)
        # each subscription is confirmed by the time subscribe returns
        for port, channel in zip(redis_cluster.primaries, channels, strict=True):
            assert await subscribers(port, channel) == 1
        # the same node again and again, then against any round of the nodes
        order = [channels[i] for i in (0, 0, 0, 0, 2, 1, 0, 2, 2, 1, 1, 1)]
        async with connect(redis_cluster.url) as client:
            for n, channel in enumerate(order):
                await client.spublish(channel, str(n))
                # the other connections are idle meanwhile
                await watch.until(lambda n=n: len(got) == n + 1, 0.5)
        assert got == [(c, str(n).encode()) for n, c in enumerate(order)]
    finally:
        await link.release()


async def test_unsubscribing_the_last_channel_of_a_node_closes_its_connection(
    redis_cluster: RedisCluster, key: str, shards: tuple[ShardSubscriber, Heard]
) -> None:
    subscriber, heard = shards
    port = redis_cluster.primaries[0]
    first, second = channel_on(redis_cluster, port, key), channel_on(redis_cluster, port, key + "x")
    await subscriber.subscribe([first, second])
    assert await subscribers(port, first) == await subscribers(port, second) == 1
    connections = await named(port, key)  # the cluster client's, and one for both channels
    await subscriber.unsubscribe(first)
    await subscriber.subscribe([first])  # again at once: heard, and nothing counted lost
    await subscriber.unsubscribe(first, second)
    assert heard.of("sunsubscribe") == []  # the answers to its own are not passed on

    async def closed() -> bool:
        return await named(port, key) == connections - 1

    await eventually_async(closed)
    assert await subscribers(port, first) == await subscribers(port, second) == 0
    await subscriber.subscribe([second])  # a new connection
    assert await subscribers(port, second) == 1
    assert await named(port, key) == connections


async def test_a_channel_whose_slot_moves_is_followed(
    redis_cluster: RedisCluster, key: str, shards: tuple[ShardSubscriber, Heard]
) -> None:
    subscriber, heard = shards
    source, target = redis_cluster.primaries[:2]
    channel = channel_on(redis_cluster, source, key)
    await subscriber.subscribe([channel])
    await asyncio.to_thread(redis_cluster.move_slot, key_slot(channel), target)
    # Redis unsubscribes it on the old owner; it is subscribed again on the new one
    await heard.watch.until(lambda: len(heard.of("ssubscribe")) == 2)
    assert [m["type"] for m in heard.messages] == ["ssubscribe", "sunsubscribe", "ssubscribe"]
    assert await subscribers(target, channel) == 1
    async with connect(redis_cluster.url) as client:
        await client.spublish(channel, b"after")
    await heard.watch.until(lambda: heard.of("smessage") == [(channel, b"after")])


async def test_a_subscription_sent_on_an_old_slot_map_is_redirected(
    redis_cluster: RedisCluster, key: str, shards: tuple[ShardSubscriber, Heard]
) -> None:
    subscriber, _ = shards
    source, target = redis_cluster.primaries[1:3]
    channel = channel_on(redis_cluster, source, key)
    await subscriber.subscribe([channel_on(redis_cluster, source, key + "x")])  # the map read
    await asyncio.to_thread(redis_cluster.move_slot, key_slot(channel), target)
    # the client's map still names the source: MOVED, then the new owner
    await within(subscriber.subscribe([channel]), 5)
    assert await subscribers(target, channel) == 1
    assert await subscribers(source, channel) == 0
