"""A cut between a server and PostgreSQL (the TCP fault proxy of tests/support): local
delivery goes on, health is 503, cluster requests fail clearly; once the link returns the
server listens again within a second and is green."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from aiosio.adapters.postgres import PostgresAdapter
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import Client, PyServer, eventually
from tests.support.fault_proxy import FaultProxy

HEARTBEATS = {"heartbeat_interval": 0.3, "heartbeat_timeout": 1.5}


async def test_a_cut_link_to_postgres(pg_dsn: str) -> None:
    proxy = await FaultProxy(5432).start()
    key = f"t-{uuid.uuid4().hex[:10]}"
    proxied = pg_dsn.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    a = await PyServer.start(proxied, key, "a", health_timeout=1.0, **HEARTBEATS)
    b = await PyServer.start(pg_dsn, key, "b", **HEARTBEATS)
    clients = [await Client.connect(a, "room"), await Client.connect(b, "room")]
    adapter = a.io.sockets.adapter
    assert isinstance(adapter, PostgresAdapter)
    heard: list[Any] = []
    b.io.on("tell", lambda n: heard.append(n))

    async def health() -> int:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{a.url}/healthz")).status_code

    try:
        await eventually(lambda: len(adapter.nodes) == 1, 5)
        proxy.set("cut")
        await eventually(lambda: not adapter.link.healthy, 3)
        assert await health() == 503
        a.io.to("room").emit("news", "local")
        await eventually(lambda: ["local"] in clients[0].news)
        with pytest.raises(ClusterError, match="unreachable"):
            await a.io.server_side_emit("tell", 1)
        with pytest.raises(ClusterError, match="unreachable"):
            await a.io.fetch_sockets()
        proxy.set("pass")
        assert await adapter.link.wait_ready(1.0)
        assert await health() == 200
        await a.io.server_side_emit("tell", "after")
        await eventually(lambda: heard == ["after"])
        a.io.to("room").emit("news", "crossed")
        await eventually(lambda: ["crossed"] in clients[1].news)
    finally:
        for client in clients:
            await client.sio.disconnect()
        await a.close()
        await b.close()
        await proxy.close()
