"""Redis goes away under a running cluster and comes back (a private redis-server)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from typing import Any

import pytest

from aiosio.adapters.redis.emitter import Emitter
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import (
    Cluster,
    NodeServer,
    PyServer,
    eventually,
    node_available,
)
from tests.support.ports import free_port
from tests.support.servers import start_redis

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.skipif(not node_available(), reason="node and tests/interop/node_modules needed"),
]


async def health(server: PyServer) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def test_cluster_recovers_when_redis_restarts(cluster_factory: Any, key: str) -> None:
    port = free_port()
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    try:
        cluster: Cluster = await cluster_factory(key, url=f"redis://127.0.0.1:{port}")
        py0, py1, node = cluster.servers
        assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
        assert isinstance(node, NodeServer)
        assert await health(py0) == 200

        redis.terminate()
        await asyncio.to_thread(redis.wait)
        await eventually(lambda: not py0.io.healthy and not py1.io.healthy)
        assert await health(py0) == 503
        # Local delivery goes on; cluster requests fail with a clear error.
        py0.io.to("room").emit("news", "local")
        mine = [c for c in cluster.clients if c.server == "py0" and c.room == "room"]
        await eventually(lambda: all(c.news == [["local"]] for c in mine))
        with pytest.raises(ClusterError):
            await py0.io.fetch_sockets()
        with pytest.raises(ClusterError):
            await py0.io.server_side_emit("hello", "x", timeout=1)

        redis = start_redis(port, daemonize=False)
        assert redis is not None
        await eventually(lambda: py0.io.healthy and py1.io.healthy, timeout=15)
        assert await health(py0) == 200

        async def node_back() -> bool:
            try:
                return bool(await node.call("count") == 3)
            except RuntimeError:
                return False

        for _ in range(150):
            if await node_back():
                break
            await asyncio.sleep(0.1)
        assert await node_back()
        sockets = await py1.io.fetch_sockets()
        assert len(sockets) == len(cluster.clients)
        py1.io.to("room").emit("news", "again")
        members = [c for c in cluster.clients if c.room == "room"]
        await eventually(lambda: all(c.news[-1:] == [["again"]] for c in members))
    finally:
        redis.terminate()
        await asyncio.to_thread(redis.wait)


async def test_first_publish_after_a_restart_reaches_the_other_server(
    cluster_factory: Any, key: str
) -> None:
    """The publisher's pooled connection died with Redis: the first publish is retried once
    on a fresh connection instead of being dropped."""
    port = free_port()
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    try:
        cluster: Cluster = await cluster_factory(key, node=False, url=f"redis://127.0.0.1:{port}")
        py0, py1 = cluster.servers
        assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
        remote = [c for c in cluster.clients if c.server == "py1" and c.room == "room"]
        py0.io.to("room").emit("news", "before")  # the publisher's connection is pooled now
        await eventually(lambda: all(c.news == [["before"]] for c in remote))

        redis.terminate()
        await asyncio.to_thread(redis.wait)
        await eventually(lambda: not py0.io.healthy and not py1.io.healthy)
        redis = start_redis(port, daemonize=False)
        assert redis is not None
        await eventually(lambda: py0.io.healthy and py1.io.healthy, timeout=15)

        py0.io.to("room").emit("news", "first")
        await eventually(lambda: all(c.news == [["before"], ["first"]] for c in remote))
    finally:
        redis.terminate()
        await asyncio.to_thread(redis.wait)


async def test_a_frozen_redis_turns_health_off_and_back_on(cluster_factory: Any, key: str) -> None:
    """SIGSTOP keeps every TCP connection open and silent: only a PING with a deadline on
    both links notices it."""
    port = free_port()
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    deadline = 1.0
    try:
        cluster: Cluster = await cluster_factory(
            key, node=False, url=f"redis://127.0.0.1:{port}", health_timeout=deadline
        )
        py0, py1 = cluster.servers
        assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
        # Healthy for a while: the pings are answered (no false alarm from the deadline).
        for _ in range(3):
            await asyncio.sleep(deadline / 2)
            assert py0.io.healthy and py1.io.healthy
        assert await health(py0) == 200

        redis.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        await eventually(lambda: not py0.io.healthy and not py1.io.healthy, timeout=10)
        noticed = time.monotonic() - frozen
        assert noticed <= deadline + 0.75, noticed  # the deadline, plus a busy machine's slack
        assert await health(py0) == 503

        redis.send_signal(signal.SIGCONT)
        await eventually(lambda: py0.io.healthy and py1.io.healthy, timeout=10)
        assert await health(py0) == 200
        remote = [c for c in cluster.clients if c.server == "py1" and c.room == "room"]
        py0.io.to("room").emit("news", "thawed")
        await eventually(lambda: all(c.news[-1:] == [["thawed"]] for c in remote))
    finally:
        redis.send_signal(signal.SIGCONT)
        redis.terminate()
        await asyncio.to_thread(redis.wait)


async def test_first_emitter_publish_after_a_restart_arrives(
    cluster_factory: Any, key: str
) -> None:
    """The emitter's pooled connection died with Redis: it publishes once more instead of
    dropping the message."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    redis = start_redis(port, daemonize=False)
    assert redis is not None
    try:
        cluster: Cluster = await cluster_factory(key, node=False, url=url)
        py0, py1 = cluster.servers
        assert isinstance(py0, PyServer) and isinstance(py1, PyServer)
        members = [c for c in cluster.clients if c.room == "room"]
        async with Emitter(url, key=key) as emitter:
            emitter.to("room").emit("news", "before")
            await eventually(lambda: all(c.news == [["before"]] for c in members))
            redis.terminate()
            await asyncio.to_thread(redis.wait)
            await eventually(lambda: not py0.io.healthy and not py1.io.healthy)
            redis = start_redis(port, daemonize=False)
            assert redis is not None
            await eventually(lambda: py0.io.healthy and py1.io.healthy, timeout=15)
            emitter.to("room").emit("news", "first")
            await emitter.flush()
            await eventually(lambda: all(c.news == [["before"], ["first"]] for c in members))
    finally:
        redis.terminate()
        await asyncio.to_thread(redis.wait)
