"""Sentinel: two aiosio servers on the primary three sentinels watch (private ports) keep
their cluster through a failover to the replica."""

from __future__ import annotations

import asyncio

from aiosio.adapters.redis import RedisAdapter
from tests.adapters.cluster_support import (
    Client,
    PyServer,
    crossing,
    eventually,
    eventually_async,
)
from tests.support.redis_topologies import Sentinels


async def test_the_adapter_follows_a_failover(sentinels: Sentinels, key: str) -> None:
    servers = [await PyServer.start(sentinels.url, key, name, health_timeout=2.0) for name in "ab"]
    clients = [await Client.connect(server, "room") for server in servers]
    adapters = [server.io.sockets.adapter for server in servers]
    assert all(isinstance(adapter, RedisAdapter) for adapter in adapters)
    delivered = crossing(servers[0], clients[1])

    try:
        await eventually_async(delivered)
        assert await adapters[0].server_count() == 2
        await asyncio.to_thread(sentinels.fail_over)
        await eventually_async(delivered, 20)
        await eventually(lambda: all(adapter.healthy for adapter in adapters), 10)
        assert await adapters[1].server_count() == 2
        markers = [n[0] for n in clients[1].news]
        assert len(markers) == len(set(markers))
    finally:
        for client in clients:
            await client.sio.disconnect()
        for server in servers:
            await server.close()
