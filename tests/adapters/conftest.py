"""Clusters for the adapter tests: aiosio and Node servers on one real Redis.

The Redis (``redis_url``) and the keys of each test (``key``) are fixtures of
``tests/conftest.py``, shared with the worker tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.adapters.cluster_support import Client, Cluster, NodeServer, PyServer


@pytest.fixture
async def cluster_factory(redis_url: str) -> AsyncIterator[Any]:
    """``await make(key, sharded=..., node=True, **options)``: two aiosio servers (with
    ``redis_adapter`` options) and one Node server on one Redis, each with a client in
    ``room`` and one in ``other``."""
    made: list[Cluster] = []

    async def make(
        key: str,
        *,
        sharded: bool = False,
        node: bool = True,
        url: str = redis_url,
        **options: Any,
    ) -> Cluster:
        servers: list[PyServer | NodeServer] = [
            await PyServer.start(url, key, "py0", sharded=sharded, **options),
            await PyServer.start(url, key, "py1", sharded=sharded, **options),
        ]
        if node:
            servers.append(await NodeServer.start(url, key, sharded=sharded))
        cluster = Cluster(servers, [])
        made.append(cluster)
        for server in servers:
            for room in ("room", "other"):
                cluster.clients.append(await Client.connect(server, room))
        return cluster

    yield make
    for cluster in made:
        for client in cluster.clients:
            await client.sio.disconnect()
        for server in cluster.servers:
            await server.close()
