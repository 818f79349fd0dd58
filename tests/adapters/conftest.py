"""A real Redis for the cluster tests.

The session fixture ``redis_url`` makes sure a Redis answers at 127.0.0.1:6379, starting
one (no persistence) when none does. Every test uses keys of its own (``key``), so tests
never hear each other.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.adapters.cluster_support import (
    REDIS_URL,
    Client,
    Cluster,
    NodeServer,
    PyServer,
    ping,
    start_redis,
)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis at 127.0.0.1:6379, started when it is not running."""
    if not ping(6379):
        if shutil.which("redis-server") is None:
            pytest.skip("no Redis server and no redis-server to start one")
        start_redis(6379, daemonize=True)
    return REDIS_URL


@pytest.fixture
def key() -> str:
    """A channel prefix of this test's own."""
    return f"t-{uuid.uuid4().hex[:10]}"


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
