"""Echo round trips over WebTransport against WebSocket, on our server with our client.

``python -m benchmarks.webtransport [--messages N] [--size BYTES]`` (``make bench`` runs
it): one client per transport sends N acknowledged echoes of SIZE bytes, one at a time,
and the median and 99th-percentile round trips are printed. Node's WebTransport server
needs @fails-components/webtransport, whose HTTP/3 part could not be installed here
(docs/webtransport.md), so Node is not measured. Never run in CI; ``--messages 20`` is a
smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiosio
from aiosio.client import Client
from aiosio.serve.webtransport import self_signed_certificate


async def _echoes(client: Client, messages: int, payload: str) -> list[float]:
    times = []
    for _ in range(messages):
        start = time.perf_counter()
        await client.timeout(10).emit_with_ack("echo", payload)
        times.append(time.perf_counter() - start)
    return times


async def run(messages: int, size: int) -> dict[str, tuple[float, float]]:
    cert, key, digest = self_signed_certificate()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "c.pem").write_bytes(cert)
        (Path(folder) / "k.pem").write_bytes(key)
        io = aiosio.Server()

        @io.on("connection")
        def connection(socket: aiosio.Socket) -> None:
            socket.on("echo", lambda data: data)

        options = {"certfile": f"{folder}/c.pem", "keyfile": f"{folder}/k.pem"}
        port = await io.start("127.0.0.1", 0, webtransport={**options, "port": 0})
        results = {}
        try:
            for transport in ("websocket", "webtransport"):
                client = Client(
                    f"http://127.0.0.1:{port}",
                    force_new=True,
                    transports=[transport],
                    webtransport={
                        "port": io.webtransport_port,
                        "certificate_hashes": [digest],
                    },
                )
                await client.connect()
                try:
                    times = await _echoes(client, messages, "x" * size)
                finally:
                    await client.disconnect()
                times.sort()
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                results[transport] = (statistics.median(times), p99)
        finally:
            await io.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.messages, args.size))
    for transport, (median, p99) in results.items():
        print(f"{transport:13} median {median * 1e6:8.0f} us   p99 {p99 * 1e6:8.0f} us")


if __name__ == "__main__":
    main()
