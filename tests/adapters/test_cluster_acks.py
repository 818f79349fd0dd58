"""Broadcasts with acknowledgements per socket across a cluster (real Redis).

aiosio servers answer a broadcast with acks with the ids of the sockets they asked (an
extension field ``sids`` of the count, ``sid`` of each answer, which Node ignores), so the
requester keys every answer by its socket id and marks the sockets that stayed silent. The
answers of a Node member carry no id: they are keyed ``anonymous#<n>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import socketio
from aiosio.exceptions import AckTimeout
from tests.adapters.cluster_support import Cluster, NodeServer, PyServer, node_available

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not node_available(), reason="node and tests/interop/node_modules needed"),
]

MODES = [pytest.param(False, id="classic"), pytest.param(True, id="sharded")]


@pytest.fixture
async def silent() -> AsyncIterator[Callable[..., Any]]:
    """``await connect(server, room)``: a client that receives ``ask`` and never answers
    (until the test is over)."""
    release = asyncio.Event()
    made: list[socketio.AsyncClient] = []

    async def never(*args: Any) -> str:
        await release.wait()
        return "too late"

    async def connect(server: PyServer | NodeServer, room: str) -> str:
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("ask", never)
        await sio.connect(server.url, transports=["websocket"], auth={"room": room})
        made.append(sio)
        sid = sio.get_sid("/")
        assert sid is not None
        return sid

    yield connect
    release.set()
    for sio in made:
        await sio.disconnect()


def answers_by_sid(cluster: Cluster, room: str) -> dict[str, Any]:
    return {c.sid: [f"{c.server}/{room}"] for c in cluster.clients if c.room == room}


@pytest.mark.parametrize("sharded", MODES)
async def test_remote_answers_are_keyed_by_socket_id(
    cluster_factory: Any, key: str, sharded: bool, silent: Any
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded, node=False)
    py0, py1 = cluster.servers
    assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
    quiet = await silent(py1, "room")

    results = await py0.io.to("room").timeout(1.5).emit_with_ack("ask", per_socket=True)

    assert {sid: v for sid, v in results.items() if sid != quiet} == answers_by_sid(cluster, "room")
    # The remote socket that did not answer is there, marked as the local ones would be.
    assert isinstance(results[quiet], AckTimeout)


@pytest.mark.parametrize("sharded", MODES)
async def test_every_remote_socket_answering_ends_the_wait_early(
    cluster_factory: Any, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded, node=False)
    py0 = cluster.servers[0]
    assert isinstance(py0, PyServer)
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await py0.io.timeout(30).emit_with_ack("ask", per_socket=True)
    assert loop.time() - started < 10  # not the 30 s timeout
    everyone = {**answers_by_sid(cluster, "room"), **answers_by_sid(cluster, "other")}
    assert results == everyone


@pytest.mark.parametrize("sharded", MODES)
async def test_a_node_member_gives_anonymous_answers(
    cluster_factory: Any, key: str, sharded: bool, silent: Any
) -> None:
    cluster: Cluster = await cluster_factory(key, sharded=sharded)
    py0, _py1, node = cluster.servers
    assert isinstance(py0, PyServer) and isinstance(node, NodeServer)
    await silent(node, "room")
    python_members = {
        c.sid: [f"{c.server}/room"]
        for c in cluster.clients
        if c.room == "room" and c.server != "node"
    }

    results = await py0.io.to("room").timeout(1.5).emit_with_ack("ask", per_socket=True)

    # Node's count and answers name no socket: its answer and its silent socket are
    # anonymous, numbered in the order its answers came.
    assert results == {
        **python_members,
        "anonymous#1": ["node/room"],
        "anonymous#2": results.get("anonymous#2"),
    }
    assert isinstance(results["anonymous#2"], AckTimeout)
    # Node, as the requester, ignores the extension fields of the aiosio answers.
    members = [c for c in cluster.clients if c.room == "other"]
    answers = await node.call("acks", rooms=["other"], event="ask", timeout=3000)
    assert sorted(answers) == sorted(f"{c.server}/other" for c in members)
