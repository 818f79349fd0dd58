"""Redis Cluster: the URL forms, a mixed cluster with Node's sharded adapter on a real
Redis Cluster (three primaries and their replicas, on private ports), the classic and
streams adapters and the emitter on it, and a slot move and a failover survived."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.cluster import key_slot

import aiosio
from aiosio.adapters.redis import Emitter, RedisAdapter, redis_adapter, streams_adapter
from aiosio.adapters.redis.topology import connect, hosts_of, is_cluster
from tests.adapters.cluster_support import (
    Cluster,
    NodeServer,
    PyServer,
    broadcasts_cross_once,
    crossing,
    eventually,
    eventually_async,
    members,
    node_available,
    shard_rooms_heard,
)
from tests.support.redis_topologies import RedisCluster


def test_urls_name_one_server_a_cluster_or_a_sentinel_service() -> None:
    assert hosts_of("redis://h1:7000,h2:7001/0") == [("h1", 7000), ("h2", 7001)]
    assert hosts_of("redis://:secret@[::1]") == [("::1", 6379)]
    assert hosts_of("redis+sentinel://s1,s2:5000/main") == [("s1", 26379), ("s2", 5000)]
    assert is_cluster(connect("redis://127.0.0.1:1,127.0.0.1:2"))
    assert is_cluster(connect("redis://127.0.0.1:1", cluster=True))
    assert not is_cluster(connect("redis://127.0.0.1:1"))
    with pytest.raises(ValueError, match="names its service"):
        connect("redis+sentinel://127.0.0.1:1")


async def test_a_mixed_sharded_cluster_on_redis_cluster(
    cluster_factory: Any, redis_cluster: RedisCluster, key: str
) -> None:
    cluster: Cluster = await cluster_factory(
        key, sharded=True, url=redis_cluster.url, node=node_available()
    )
    names = [server.name for server in cluster.servers]
    py0 = cluster.servers[0]
    assert isinstance(py0, PyServer)
    await eventually_async(shard_rooms_heard(cluster, key, ["room", "other"]), 10)
    await broadcasts_cross_once(cluster, b"\x00\x01")
    sockets = await py0.io.fetch_sockets()
    assert sorted({s.data["server"] for s in sockets}) == sorted(names)
    assert sorted(await py0.io.server_side_emit("hello", "a", timeout=3)) == sorted(
        f"{n}:a" for n in names[1:]
    )
    for node in cluster.servers[2:]:
        assert isinstance(node, NodeServer)
        assert await node.call("count") == len(names)
        assert sorted(await node.call("sse", event="hello", args=["b"])) == ["py0:b", "py1:b"]
    async with Emitter(redis_cluster.url, key=key, sharded=True) as emitter:
        emitter.to("other").emit("news", "emitted")
    await eventually(lambda: all(c.news == [["emitted"]] for c in members(cluster, "other")))


async def test_classic_and_streams_adapters_on_a_given_cluster_client(
    redis_cluster: RedisCluster, key: str
) -> None:
    client = ClusterClient.from_url(redis_cluster.url.split(",")[0], socket_timeout=20)
    servers = []
    got: list[Any] = []
    try:
        for factory in (
            redis_adapter(key=key, client=client),
            redis_adapter(redis_cluster.url, key=key),
        ):
            io = aiosio.Server(adapter=factory)
            io.on("ping-all", lambda *args: got.append(args))
            servers.append(io)
            await io.start(port=0)
        assert await servers[0].sockets.adapter.server_count() == 2
        await servers[1].server_side_emit("ping-all", 1)
        await eventually(lambda: got == [(1,)])
        streams = [
            aiosio.Server(
                adapter=streams_adapter(redis_cluster.url, stream_name=key, channel_prefix=key)
            )
            for _ in range(2)
        ]
        for io in streams:
            io.on("ping-all", lambda *args: got.append(args))
            await io.start(port=0)
        servers += streams
        await streams[0].server_side_emit("ping-all", 2)
        await eventually(lambda: got == [(1,), (2,)])
    finally:
        for io in servers:
            await io.close()
        await client.aclose()


async def test_a_slot_move_and_a_failover_are_survived(
    cluster_factory: Any,
    redis_cluster: RedisCluster,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=True, url=redis_cluster.url, node=False)
    sender, receiver = cluster.servers
    assert isinstance(sender, PyServer) and isinstance(receiver, PyServer)
    adapter = receiver.io.sockets.adapter
    assert isinstance(adapter, RedisAdapter)
    link = adapter.link
    slot = key_slot(f"{key}#/#room#".encode())  # the channel of the room
    heard = members(cluster, "room")[1]  # the receiver's client in the room
    delivered = crossing(sender, heard)

    await eventually_async(delivered)
    caplog.set_level(logging.WARNING, "aiosio.redis")
    others = [p for p in redis_cluster.primaries if p != redis_cluster.owner(slot)]
    await asyncio.to_thread(redis_cluster.move_slot, slot, others[0])
    await eventually_async(delivered, 10)
    await eventually(lambda: link.healthy and link.loss_windows >= 1, 5)
    assert "was unsubscribed by Redis" in caplog.text
    # the primary that serves the room now dies; its replica takes over
    await asyncio.to_thread(redis_cluster.fail_over, redis_cluster.owner(slot))
    await eventually_async(delivered, 15)
    await eventually(lambda: link.healthy, 5)
    # nothing twice: each marker the receiver's client got, it got once
    markers = [n[0] for n in heard.news]
    assert len(markers) == len(set(markers))
