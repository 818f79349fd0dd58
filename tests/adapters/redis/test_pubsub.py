"""Two aiosio servers and one official Node server (@socket.io/redis-adapter) on one Redis.

Each server has a client in ``room`` and one in ``other``; every test runs in the classic
format (``createAdapter``) and in the sharded one (``createShardedAdapter``, SPUBLISH).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import (
    Client,
    Cluster,
    NodeServer,
    PyServer,
    eventually,
    node_available,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not node_available(), reason="node and tests/interop/node_modules needed"),
]

MODES = [pytest.param(False, id="classic"), pytest.param(True, id="sharded")]


def in_room(cluster: Cluster, room: str) -> list[Client]:
    return [client for client in cluster.clients if client.room == room]


async def emit_from(server: PyServer | NodeServer, rooms: list[str], *args: Any, **kw: Any) -> None:
    except_ = kw.get("except_", [])
    if isinstance(server, NodeServer):
        wire = [{"$bytes": list(a)} if isinstance(a, bytes) else a for a in args]
        await server.call("emit", rooms=rooms, event="news", args=wire, **{"except": except_})
        return
    server.io.to(*rooms).except_(*except_).emit("news", *args)


@pytest.mark.parametrize("sharded", MODES)
async def test_room_broadcast_from_each_server_reaches_every_member_once(
    cluster_factory: Any, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    for server in cluster.servers:
        await emit_from(server, ["room"], server.name, b"\x00\x01")
    members = in_room(cluster, "room")
    await eventually(lambda: all(len(c.news) >= 3 for c in members))
    await asyncio.sleep(0.2)  # anything duplicated would have arrived by now
    for client in members:
        assert sorted(news[0] for news in client.news) == ["node", "py0", "py1"], client
        assert all(news[1] == b"\x00\x01" for news in client.news)
    assert all(not client.news for client in in_room(cluster, "other"))


@pytest.mark.parametrize("sharded", MODES)
async def test_broadcast_with_exceptions_and_to_everyone(
    cluster_factory: Any, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    py0 = cluster.servers[0]
    assert isinstance(py0, PyServer)
    py0.io.except_("other").emit("news", "not-other")
    py0.io.emit("news", "all")
    await eventually(lambda: all(len(c.news) >= 1 for c in in_room(cluster, "other")))
    await eventually(lambda: all(len(c.news) >= 2 for c in in_room(cluster, "room")))
    await asyncio.sleep(0.2)
    for client in in_room(cluster, "other"):
        assert client.news == [["all"]]
    for client in in_room(cluster, "room"):
        assert sorted(n[0] for n in client.news) == ["all", "not-other"]


@pytest.mark.parametrize("sharded", MODES)
async def test_fetch_sockets_spans_all_three(cluster_factory: Any, key: str, sharded: bool) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    everyone = {client.sid for client in cluster.clients}
    members = {client.sid for client in in_room(cluster, "room")}
    py1, node = cluster.servers[1], cluster.servers[2]
    assert isinstance(py1, PyServer) and isinstance(node, NodeServer)
    sockets = await py1.io.fetch_sockets()
    assert {s.id for s in sockets} == everyone
    assert {s.data["server"] for s in sockets} == {"py0", "py1", "node"}
    in_room_sockets = await py1.io.in_("room").fetch_sockets()
    assert {s.id for s in in_room_sockets} == members
    assert all("room" in s.rooms for s in in_room_sockets)
    from_node = await node.call("fetch", rooms=["room"])
    assert {s["id"] for s in from_node} == members
    assert {s["data"]["server"] for s in from_node} == {"py0", "py1", "node"}


@pytest.mark.parametrize("sharded", MODES)
async def test_server_side_emit_with_acks_spans_all_three(
    cluster_factory: Any, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    py0, node = cluster.servers[0], cluster.servers[2]
    assert isinstance(py0, PyServer) and isinstance(node, NodeServer)
    assert sorted(await py0.io.server_side_emit("hello", "x", timeout=3)) == ["node:x", "py1:x"]
    assert sorted(await node.call("sse", event="hello", args=["y"])) == ["py0:y", "py1:y"]
    await py0.io.server_side_emit("notice", 1, {"a": [2]})
    await eventually(lambda: node.sse == [["notice", 1, {"a": [2]}]])
    py1 = cluster.servers[1]
    assert isinstance(py1, PyServer)
    await eventually(lambda: py1.sse == [["notice", 1, {"a": [2]}]])
    assert py0.sse == []  # a server does not hear itself


@pytest.mark.parametrize("sharded", MODES)
async def test_broadcast_with_acks_spans_all_three(
    cluster_factory: Any, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    py0, node = cluster.servers[0], cluster.servers[2]
    assert isinstance(py0, PyServer) and isinstance(node, NodeServer)
    expected = sorted(f"{c.server}/room" for c in in_room(cluster, "room"))
    answers = await py0.io.timeout(3).to("room").emit_with_ack("ask")
    assert sorted(answers) == expected
    assert sorted(await node.call("acks", rooms=["room"], event="ask", timeout=3000)) == expected


@pytest.mark.parametrize("sharded", MODES)
async def test_sockets_join_leave_and_disconnect_across_servers(
    cluster_factory: Any, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    py0, py1, node = cluster.servers
    assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
    assert isinstance(node, NodeServer)
    py0.io.in_("other").sockets_join("late")
    await asyncio.sleep(0.3)
    await node.call("emit", rooms=["late"], event="news", args=["late"])
    others = in_room(cluster, "other")
    await eventually(lambda: all(c.news == [["late"]] for c in others))
    await node.call("leave", rooms=["late"], room="late")
    await asyncio.sleep(0.3)
    py1.io.to("late").emit("news", "gone")
    await node.call("disconnect", rooms=["other"])
    await eventually(lambda: all(not c.sio.connected for c in others))
    assert all(c.sio.connected for c in in_room(cluster, "room"))
    assert all(c.news == [["late"]] for c in others)


async def test_python_emitter_reaches_all_three(
    cluster_factory: Any, key: str, redis_url: str
) -> None:
    from aiosio.adapters.redis.emitter import Emitter

    cluster: Cluster = await cluster_factory(key)
    node = cluster.servers[2]
    assert isinstance(node, NodeServer)
    async with Emitter(redis_url, key=key) as emitter:
        emitter.to("room").emit("news", "from-emitter", b"\x02")
        emitter.except_("room").emit("news", "to-others")
        emitter.server_side_emit("tell", "hi")
        await emitter.flush()
    await eventually(lambda: all(len(c.news) == 1 for c in cluster.clients))
    for client in in_room(cluster, "room"):
        assert client.news == [["from-emitter", b"\x02"]]
    for client in in_room(cluster, "other"):
        assert client.news == [["to-others"]]
    py0, py1 = cluster.servers[0], cluster.servers[1]
    assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
    await eventually(lambda: py0.sse == py1.sse == node.sse == [["tell", "hi"]])


async def test_python_emitter_joins_and_disconnects(
    cluster_factory: Any, key: str, redis_url: str
) -> None:
    from aiosio.adapters.redis.emitter import Emitter

    cluster: Cluster = await cluster_factory(key)
    async with Emitter(redis_url, key=key) as emitter:
        emitter.in_("other").sockets_join("vip")
        await emitter.flush()
        await asyncio.sleep(0.3)
        emitter.to("vip").emit("news", "vip")
        await emitter.flush()
        others = in_room(cluster, "other")
        await eventually(lambda: all(c.news == [["vip"]] for c in others))
        emitter.in_("vip").disconnect_sockets(close=True)
        await emitter.flush()
    await eventually(lambda: all(not c.sio.connected for c in others))
    assert all(c.sio.connected for c in in_room(cluster, "room"))


async def test_node_emitter_reaches_python_servers(cluster_factory: Any, key: str) -> None:
    cluster: Cluster = await cluster_factory(key)
    node = cluster.servers[2]
    assert isinstance(node, NodeServer)
    await node.call("emitter", rooms=["room"], event="news", args=["node-emitter", {"$bytes": [7]}])
    await node.call("emitterSse", event="tell", args=["yo"])
    members = in_room(cluster, "room")
    await eventually(lambda: all(c.news == [["node-emitter", b"\x07"]] for c in members))
    py0 = cluster.servers[0]
    assert isinstance(py0, PyServer)
    await eventually(lambda: py0.sse == [["tell", "yo"]])
    assert all(not c.news for c in in_room(cluster, "other"))


async def test_requests_time_out_with_cluster_error(cluster_factory: Any, key: str) -> None:
    cluster: Cluster = await cluster_factory(key, node=False)
    py0, py1 = cluster.servers
    assert isinstance(py0, PyServer) and isinstance(py1, PyServer)

    @py1.io.on("slow")
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    with pytest.raises(ClusterError, match="timeout reached"):
        await py0.io.server_side_emit("slow", timeout=0.3)
    adapter = py0.io.sockets.adapter
    assert adapter.healthy
    assert await adapter.server_count() == 2
