"""The Postgres Emitter against two aiosio servers on a real PostgreSQL (its meeting with
Node's servers and Node's emitter is in test_adapter.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aiosio.adapters.postgres import Emitter
from tests.adapters.cluster_support import Cluster, eventually

HEARTBEATS = {"heartbeat_interval": 0.3, "heartbeat_timeout": 1.5}


async def test_operations_reach_both_servers_in_order(cluster_factory: Any, pg_dsn: str) -> None:
    key = f"t-{uuid.uuid4().hex[:10]}"
    cluster: Cluster = await cluster_factory(key, url=pg_dsn, node=False, **HEARTBEATS)
    heard: list[Any] = []
    for server in cluster.servers:
        server.io.on("reload", lambda *args: heard.append(args))  # type: ignore[union-attr]
    async with Emitter(pg_dsn, channel_prefix=key) as emitter:
        emitter.in_("other").sockets_join("joined")
        emitter.to("joined").emit("news", "to-joined", b"\x01" * 10)
        emitter.except_("room").emit("news", "big", "z" * 9000)
        emitter.server_side_emit("reload", 1)
        emitter.of("/nowhere").emit("news", "elsewhere")
        with pytest.raises(ValueError, match="reserved"):
            emitter.emit("connect")
    others = [c for c in cluster.clients if c.room == "other"]
    await eventually(lambda: all(len(c.news) == 2 for c in others) and len(heard) == 2)
    for client in others:
        assert client.news == [["to-joined", b"\x01" * 10], ["big", "z" * 9000]]
    assert heard == [(1,), (1,)]
    assert all(not c.news for c in cluster.clients if c.room == "room")
