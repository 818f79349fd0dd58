"""Faults of the network between a server and Redis, made by a TCP proxy (cut, blackhole,
delay) in front of the machine's Redis: server ``a`` reaches Redis through it, server ``b``
directly; each has a client in ``room``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aiosio.adapters.redis import RedisAdapter, RedisLink
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import (
    Client,
    PyServer,
    crossing,
    eventually,
    eventually_async,
)
from tests.support.fault_proxy import FaultProxy


@dataclass
class Pair:
    proxy: FaultProxy
    a: PyServer
    b: PyServer
    clients: list[Client]
    link: RedisLink

    async def health(self) -> int:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{self.a.url}/healthz")).status_code

    async def crosses(self, wait: float = 0.05) -> bool:
        """A broadcast from a reaches b's client within ``wait`` seconds."""
        return bool(await crossing(self.a, self.clients[1], wait)())

    def local_reaches(self, text: str) -> bool:
        return [text] in self.clients[0].news


@pytest.fixture
async def pair(redis_url: str, key: str) -> AsyncIterator[Pair]:
    proxy = await FaultProxy(6379).start()
    a = await PyServer.start(proxy.url(), key, "a", health_timeout=1.0, max_outbox=5)
    b = await PyServer.start(redis_url, key, "b")
    clients = [await Client.connect(a, "room"), await Client.connect(b, "room")]
    adapter = a.io.sockets.adapter
    assert isinstance(adapter, RedisAdapter)
    pair = Pair(proxy, a, b, clients, adapter.link)
    await eventually_async(pair.crosses)
    yield pair
    for client in clients:
        await client.sio.disconnect()
    await a.close()
    await b.close()
    await proxy.close()


async def check_outage(pair: Pair) -> None:
    """While Redis is unreachable: 503, local delivery goes on, cluster requests fail."""
    await eventually(lambda: not pair.link.healthy, 3)
    assert await pair.health() == 503
    pair.a.io.to("room").emit("news", "local")
    await eventually(lambda: pair.local_reaches("local"))
    with pytest.raises(ClusterError, match="unreachable"):
        await pair.a.io.server_side_emit("tell", 1)
    with pytest.raises(ClusterError, match="unreachable"):
        await pair.a.io.fetch_sockets()


async def check_return(pair: Pair) -> None:
    """Once the link is back: subscribed within a second, green, and the cluster works."""
    assert await pair.link.wait_ready(1.0)
    await eventually(lambda: pair.link.healthy, 1)
    assert await pair.health() == 200
    await eventually_async(pair.crosses)
    assert sorted(s.data["server"] for s in await pair.a.io.fetch_sockets()) == ["a", "b"]


async def test_a_cut_link(pair: Pair) -> None:
    pair.proxy.set("cut")
    await check_outage(pair)
    pair.proxy.set("pass")
    await check_return(pair)


async def test_a_blackholed_link(pair: Pair) -> None:
    pair.proxy.set("blackhole")
    # Not noticed yet: cluster messages queue, up to max_outbox (5), then fail clearly.
    with pytest.raises(ClusterError, match="too many messages waiting"):
        for n in range(10):
            await pair.a.io.server_side_emit("tell", n)
    await check_outage(pair)  # noticed by the PING deadline (health_timeout, 1 s)
    pair.proxy.set("pass")
    await check_return(pair)
    heard: list[Any] = []
    pair.b.io.on("tell", lambda n: heard.append(n))
    await pair.a.io.server_side_emit("tell", "after")
    await eventually(lambda: heard == ["after"])


async def test_a_slow_link(pair: Pair) -> None:
    pair.proxy.set("pass", delay=0.05)  # each way, for every chunk
    await eventually_async(lambda: pair.crosses(0.8))
    assert sorted(s.data["server"] for s in await pair.a.io.fetch_sockets()) == ["a", "b"]
    assert pair.link.healthy and await pair.health() == 200
