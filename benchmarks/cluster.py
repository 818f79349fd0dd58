"""Cluster-wide broadcast deliveries per second: 2 server processes joined by Redis.

Run by hand (never in CI), with Redis at 127.0.0.1:6379 and ``tests/interop``'s npm
packages installed::

    .venv/bin/python -m benchmarks.cluster [--clients 100] [--count 2000]

For each peer (aiosio with ``redis_adapter``, the official Node server with
``@socket.io/redis-adapter``), two servers start on their own ports; ``--clients`` raw
WebSocket clients connect to each; one client per server asks its server for ``--count``
broadcasts to everyone (paced in bursts of 50). Every client must receive
``2 x count`` events; the figure is all deliveries divided by the time from the first to
the last one. This machine has 2 cores, shared by both servers, Redis and the clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).parent
NODE = HERE / "cluster_node.js"


def serve_aiosio(port: int, key: str) -> None:
    import aiosio
    from aiosio.adapters.redis.pubsub import redis_adapter

    io = aiosio.Server(adapter=redis_adapter(key=key), transports=["websocket"])

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        @socket.on("go")
        async def go(count: int) -> None:
            for i in range(count):
                io.emit("tick", i)
                if i % 50 == 49:
                    await asyncio.sleep(0.005)

    print("ready", flush=True)
    io.run(port=port)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def run_clients(
    servers: list[list[str]],
    ports: list[int],
    clients: int,
    count: int,
    *,
    settle: float = 0.5,
    timeout: float = 120,
) -> dict[str, float]:
    """Start the ``servers`` (commands listening on ``ports``), give them ``settle``
    seconds to subscribe, run ``cluster_node.js clients`` against them and return its
    figures (``deliveries``, ``expected``, ``seconds``); the servers are stopped."""
    processes = [subprocess.Popen(c, stdout=subprocess.DEVNULL) for c in servers]
    try:
        for port in ports:
            wait_listening(port)
        time.sleep(settle)  # subscriptions (and heartbeats) between the servers
        run = subprocess.run(
            ["node", str(NODE), "clients", str(clients), str(count), *map(str, ports)],
            capture_output=True,
            check=True,
            timeout=timeout,
        )
        result: dict[str, float] = json.loads(run.stdout)
        return result
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def figures(result: dict[str, float]) -> str:
    """The deliveries, seconds and deliveries/s columns of a row, and what was missing."""
    seconds = result["seconds"]
    rate = result["deliveries"] / seconds if seconds else 0.0
    missing = result["expected"] - result["deliveries"]
    note = f"  ({missing:.0f} missing)" if missing else ""
    return f"{result['deliveries']:>11.0f} {seconds:>8.2f} {rate:>13,.0f}{note}"


def measure(peer: str, clients: int, count: int) -> dict[str, float]:
    key = f"bench-{uuid.uuid4().hex[:8]}"
    ports = [free_port(), free_port()]
    if peer == "aiosio":
        servers = [
            [sys.executable, "-m", "benchmarks.cluster", "--serve", str(p), key] for p in ports
        ]
    else:
        servers = [["node", str(NODE), "server", str(p), key] for p in ports]
    return run_clients(servers, ports, clients, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100, help="clients per server")
    parser.add_argument("--count", type=int, default=2000, help="broadcasts per server")
    parser.add_argument("--peers", default="aiosio,node")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_aiosio(int(args.serve[0]), args.serve[1])
        return
    print(f"{'peer':8} {'deliveries':>11} {'seconds':>8} {'deliveries/s':>13}")
    for peer in args.peers.split(","):
        print(f"{peer:8} {figures(measure(peer, args.clients, args.count))}")


if __name__ == "__main__":
    main()
