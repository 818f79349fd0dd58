"""Sentinel: two aiosio servers on the primary three sentinels watch (private ports) keep
their cluster through a failover to the replica."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosio.adapters.redis import RedisAdapter
from tests.adapters.cluster_support import (
    Cluster,
    PyServer,
    crossing,
    eventually,
    eventually_async,
    members,
)
from tests.support.redis_topologies import Sentinels


async def test_the_adapter_follows_a_failover(
    cluster_factory: Any, sentinels: Sentinels, key: str
) -> None:
    cluster: Cluster = await cluster_factory(key, url=sentinels.url, node=False, health_timeout=2.0)
    adapters = [server.io.sockets.adapter for server in cluster.servers]  # type: ignore[union-attr]
    assert all(isinstance(adapter, RedisAdapter) for adapter in adapters)
    sender = cluster.servers[0]
    assert isinstance(sender, PyServer)
    heard = members(cluster, "room")[1]  # the other server's client in the room
    delivered = crossing(sender, heard)

    await eventually_async(delivered)
    assert await adapters[0].server_count() == 2
    await asyncio.to_thread(sentinels.fail_over)
    await eventually_async(delivered, 20)
    await eventually(lambda: all(adapter.healthy for adapter in adapters), 10)
    assert await adapters[1].server_count() == 2
    markers = [n[0] for n in heard.news]
    assert len(markers) == len(set(markers))
