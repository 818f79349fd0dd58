"""Cluster fan-out on each backend: three servers, one room spread over them.

Run by hand (``make bench``, never in CI), with Redis at 127.0.0.1:6379, PostgreSQL at
127.0.0.1:5432 (user postgres) and ``tests/interop``'s npm packages installed::

    .venv/bin/python -m benchmarks.cluster_backends [--clients 50] [--count 1000]
        [--backends redis,redis-cluster,postgres] [--peers aiosio,node]

For each backend (one Redis; a Redis Cluster of three primaries and their replicas,
started on private ports for the run, with the sharded adapters; PostgreSQL, in a
database made for the run) and each peer (aiosio, the official Node server with the
matching official adapter), three servers start; ``--clients`` raw WebSocket clients
connect to each and join ``room``; one client per server asks its server for ``--count``
broadcasts to the room. Every client must receive ``3 x count`` events; the figure is all
deliveries divided by the time from the first to the last one (measured by
``cluster_node.js clients``). The machine's cores are shared by the servers, the backend
and the clients: compare the peers on one backend, run by run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from benchmarks.cluster import figures, free_port, run_clients

HERE = Path(__file__).parent
NODE_SERVER = HERE / "cluster_backends_node.js"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def serve_aiosio(port: int, key: str, url: str) -> None:
    import aiosio

    if url.startswith("postgres"):
        from aiosio.adapters.postgres import postgres_adapter

        adapter = postgres_adapter(url, channel_prefix=key)
    else:
        from aiosio.adapters.redis import redis_adapter

        adapter = redis_adapter(url, key=key, sharded="," in url)
    io = aiosio.Server(adapter=adapter, transports=["websocket"])

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.join("room")

        @socket.on("go")
        async def go(count: int) -> None:
            for i in range(count):
                io.to("room").emit("tick", i)
                if i % 50 == 49:
                    await asyncio.sleep(0.005)

    print("ready", flush=True)
    io.run(port=port)


@contextlib.contextmanager
def backend(name: str) -> Iterator[str]:
    """The URL of a running backend of that name, for the time of the block."""
    if name == "redis":
        yield "redis://127.0.0.1:6379"
    elif name == "redis-cluster":
        from tests.support.redis_topologies import RedisCluster

        cluster = RedisCluster.start()
        try:
            yield cluster.url
        finally:
            cluster.stop()
    elif name == "postgres":
        import asyncpg

        database = f"aiosio_bench_{uuid.uuid4().hex[:8]}"

        async def admin(sql: str) -> None:
            connection = await asyncpg.connect(f"{POSTGRES}/postgres")
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        asyncio.run(admin(f'CREATE DATABASE "{database}"'))
        try:
            yield f"{POSTGRES}/{database}"
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    else:
        raise SystemExit(f"unknown backend {name!r}")


def measure(peer: str, url: str, clients: int, count: int) -> dict[str, float]:
    key = f"bench-{uuid.uuid4().hex[:8]}"
    ports = [free_port() for _ in range(3)]
    if peer == "aiosio":
        module = "benchmarks.cluster_backends"
        servers = [[sys.executable, "-m", module, "--serve", str(p), key, url] for p in ports]
    else:
        servers = [["node", str(NODE_SERVER), str(p), key, url] for p in ports]
    settle = 1.5 if url.startswith("postgres") else 0.5  # PostgreSQL: heartbeats too
    return run_clients(servers, ports, clients, count, settle=settle, timeout=180)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50, help="clients per server")
    parser.add_argument("--count", type=int, default=1000, help="broadcasts per server")
    parser.add_argument("--backends", default="redis,redis-cluster,postgres")
    parser.add_argument("--peers", default="aiosio,node")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "KEY", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_aiosio(int(args.serve[0]), args.serve[1], args.serve[2])
        return
    print(f"{'backend':14} {'peer':8} {'deliveries':>11} {'seconds':>8} {'deliveries/s':>13}")
    for name in args.backends.split(","):
        with backend(name) as url:
            for peer in args.peers.split(","):
                result = measure(peer, url, args.clients, args.count)
                print(f"{name:14} {peer:8} {figures(result)}")


if __name__ == "__main__":
    main()
