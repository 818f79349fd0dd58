"""A mixed cluster on one PostgreSQL: two aiosio servers and an official Node server
(socket.io 4.8 with @socket.io/postgres-adapter 0.5), each with a client in ``room`` and
one in ``other``; heartbeats every 0.3 s on every server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosio.adapters.postgres import Emitter, PostgresAdapter
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import (
    Client,
    Cluster,
    NodeServer,
    PyServer,
    emit,
    eventually,
    eventually_async,
    members,
    node_available,
)
from tests.support.waits import within

HEARTBEATS = {"heartbeat_interval": 0.3, "heartbeat_timeout": 1.5}


def adapter_of(server: PyServer) -> PostgresAdapter:
    adapter = server.io.sockets.adapter
    assert isinstance(adapter, PostgresAdapter)
    return adapter


async def counts(cluster: Cluster) -> list[int]:
    found = []
    for server in cluster.servers:
        if isinstance(server, NodeServer):
            found.append(await server.call("count"))
        else:
            found.append(await adapter_of(server).server_count())
    return found


async def until_everyone_knows_everyone(cluster: Cluster, seconds: float = 10.0) -> None:
    expected = [len(cluster.servers)] * len(cluster.servers)

    async def known() -> bool:
        return await counts(cluster) == expected

    await eventually_async(known, seconds)


@pytest.fixture
async def pg_cluster(cluster_factory: Any, pg_dsn: str) -> AsyncIterator[Cluster]:
    key = f"t-{uuid.uuid4().hex[:10]}"
    cluster: Cluster = await cluster_factory(key, url=pg_dsn, node=node_available(), **HEARTBEATS)
    await until_everyone_knows_everyone(cluster)
    yield cluster


async def until_marked(clients: list[Client], markers: set[Any]) -> None:
    """Wait until every client got every marker. An aiosio server delivers a sender's
    messages in the order they were sent, so what came before a marker (a duplicate
    included) is in by then; a Node server hands an attachment over after the plain
    notifications that followed it, so tests wait for every message they expect."""
    await eventually(lambda: all(markers <= {n[0] for n in c.news} for c in clients), 10)


async def test_broadcasts_reach_every_member_exactly_once_both_ways(pg_cluster: Cluster) -> None:
    big = "x" * 9000  # over NOTIFY's limit: through the attachments table
    for server in pg_cluster.servers:
        await emit(server, ["room"], server.name, b"\x00\x01")
        await emit(server, ["room"], f"{server.name}-big", big)
        await emit(server, ["room"], f"{server.name}-end")
    names = [server.name for server in pg_cluster.servers]
    expected = {n + s for n in names for s in ("", "-big", "-end")}
    await until_marked(members(pg_cluster, "room"), expected)
    for client in members(pg_cluster, "room"):
        got = sorted(n[0] for n in client.news)
        assert got == sorted(n + s for n in names for s in ("", "-big", "-end")), client
        assert all(n[1] == b"\x00\x01" for n in client.news if n[0] in names)
        assert all(n[1] == big for n in client.news if n[0].endswith("-big"))
    assert all(not client.news for client in members(pg_cluster, "other"))


async def test_fetch_sockets_and_acks_across(pg_cluster: Cluster) -> None:
    py0, _py1, *rest = pg_cluster.servers
    assert isinstance(py0, PyServer)
    sockets = await py0.io.in_("room").fetch_sockets()
    assert sorted(s.data["server"] for s in sockets) == sorted(s.name for s in pg_cluster.servers)
    answers = await py0.io.to("other").timeout(3).emit_with_ack("ask")
    assert sorted(answers) == sorted(f"{s.name}/other" for s in pg_cluster.servers)
    others = await py0.io.server_side_emit("hello", "a", timeout=3)
    assert sorted(others) == sorted(f"{s.name}:a" for s in pg_cluster.servers[1:])
    for node in rest:
        assert isinstance(node, NodeServer)
        fetched = await node.call("fetch", rooms=["other"])
        assert sorted(s["data"]["server"] for s in fetched) == ["node", "py0", "py1"]
        assert sorted(await node.call("sse", event="hello", args=["b"])) == ["py0:b", "py1:b"]
        acks = await node.call("acks", rooms=["room"], event="ask", timeout=3000)
        assert sorted(acks) == ["node/room", "py0/room", "py1/room"]


async def test_a_server_that_closes_is_forgotten_at_once(cluster_factory: Any, pg_dsn: str) -> None:
    key = f"t-{uuid.uuid4().hex[:10]}"
    cluster: Cluster = await cluster_factory(key, url=pg_dsn, node=False, **HEARTBEATS)
    await until_everyone_knows_everyone(cluster)
    py0, py1 = cluster.servers
    assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
    for client in cluster.clients[2:]:
        await client.sio.disconnect()
    await py1.io.close()  # says ADAPTER_CLOSE

    async def forgotten() -> bool:
        return await adapter_of(py0).server_count() == 1

    await eventually_async(forgotten, 1)  # before the 1.5 s heartbeat timeout


async def test_the_emitters_of_both(pg_cluster: Cluster, pg_dsn: str) -> None:
    py0 = pg_cluster.servers[0]
    assert isinstance(py0, PyServer)
    prefix = adapter_of(py0).link.settings.channel_prefix
    async with Emitter(pg_dsn, channel_prefix=prefix) as emitter:
        emitter.to("room").emit("news", "ours", b"\x02")
        emitter.to("other").emit("news", "ours-big", "y" * 9000)
        emitter.to("room").emit("news", "ours-end")
    await until_marked(members(pg_cluster, "room"), {"ours", "ours-end"})
    await until_marked(members(pg_cluster, "other"), {"ours-big"})
    for client in members(pg_cluster, "room"):
        assert sorted(n[0] for n in client.news) == ["ours", "ours-end"]
        assert [n[1] for n in client.news if n[0] == "ours"] == [b"\x02"]
    node = next((s for s in pg_cluster.servers if isinstance(s, NodeServer)), None)
    if node is None:
        return
    # Node's emitter names no namespace: aiosio servers read it from the channel. (Node's
    # adapter 0.5 drops those messages, so its own clients are not checked here.)
    await node.call("emitter", rooms=["other"], event="news", args=["theirs", {"$bytes": [3]}])
    await node.call("emitter", rooms=["other"], event="news", args=["theirs-end"])
    py_clients = [c for c in members(pg_cluster, "other") if c.server != "node"]
    await until_marked(py_clients, {"theirs", "theirs-end"})
    # (Node's emitter does not keep the order of an attachment and a plain notification.)
    for client in py_clients:
        assert sorted(n[0] for n in client.news) == ["ours-big", "theirs", "theirs-end"]
        assert [n[1] for n in client.news if n[0] == "theirs"] == [b"\x03"]


async def test_requests_fail_clearly_without_other_servers_answering(pg_dsn: str) -> None:
    key = f"t-{uuid.uuid4().hex[:10]}"
    server = await PyServer.start(pg_dsn, key, "alone", requests_timeout=0.5, **HEARTBEATS)
    try:
        adapter = adapter_of(server)
        assert await adapter.server_count() == 1
        assert await server.io.server_side_emit("hello", "x", timeout=1) == []
        # a server that is counted but never answers
        adapter.nodes["ghost"] = asyncio.get_running_loop().time() + 1e9
        with pytest.raises(ClusterError, match="timeout reached"):
            await within(server.io.server_side_emit("hello", "x", timeout=0.3), 3)
    finally:
        await server.close()
