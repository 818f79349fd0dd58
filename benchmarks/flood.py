"""One flooding client against 100 steady ones: their p99 with and without a rate limit.

Run by hand (never in CI)::

    .venv/bin/python -m benchmarks.flood [--seconds 10] [--clients 100] [--rate 50]
    .venv/bin/python -m benchmarks.flood --quick      # a smoke run: 1 s, 10 clients

For each configuration (no limit, then ``io.limit(events_per_s=100, burst=200)``) an
aiosio server starts in a process of its own (pinned to CPU 0 with ``taskset`` when it is
there). ``--clients`` steady clients each send an acknowledged ``echo`` every
``1/--rate`` seconds and time the answer; one flooder writes acknowledged ``echo``
packets as fast as its socket takes them and reads whatever comes back. The table gives
the steady clients' round-trip percentiles and how many of the flooder's events were
answered by the handler (the rest were refused by the limiter). Clients speak raw
WebSocket frames (no client library), so the driver costs little beside the server.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time

UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: bench\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
LIMIT = {"events_per_s": 100, "burst": 200}


def serve(port: int, limited: bool) -> None:
    """The server process: an echo with an ack, limited or not."""
    import aiosio

    io = aiosio.Server(transports=["websocket"])
    if limited:
        io.limit(**LIMIT)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda value: value)

    io.run(port=port, log_level="warning")


def frame(text: str) -> bytes:
    """A masked text frame (all-zero key: the payload as it is)."""
    data = text.encode()
    n = len(data)
    head = bytes([0x81]) + (
        bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    )
    return head + b"\0\0\0\0" + data


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """The payload of the next (unmasked, unfragmented) server frame."""
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(n)


async def join(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    await reader.readuntil(b"\r\n\r\n")
    await read_frame(reader)  # OPEN
    writer.write(frame("40"))
    while not (await read_frame(reader)).startswith(b"40"):
        pass
    return reader, writer


async def steady(port: int, rate: float, until: float, times: list[float]) -> None:
    reader, writer = await join(port)
    ack = 0
    try:
        while time.perf_counter() < until:
            sent = time.perf_counter()
            writer.write(frame(f'42{ack}["echo",{ack}]'))
            while True:
                data = await read_frame(reader)
                if data == b"2":  # a ping
                    writer.write(frame("3"))
                elif data.startswith(b"43%d[" % ack):
                    break
            times.append(time.perf_counter() - sent)
            ack += 1
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
    finally:
        writer.close()


async def flood(port: int, until: float, answers: dict[str, int]) -> None:
    reader, writer = await join(port)
    batch = b"".join(frame(f'42{i}["echo",{i}]') for i in range(100))

    async def drain_answers() -> None:
        while True:
            data = await read_frame(reader)
            key = "refused" if b"rate_limited" in data else "answered"
            answers[key] = answers.get(key, 0) + 1

    reading = asyncio.create_task(drain_answers())
    try:
        while (left := until - time.perf_counter()) > 0:
            writer.write(batch)
            try:  # as fast as the socket takes them, and not past the end
                await asyncio.wait_for(writer.drain(), left)
            except TimeoutError:
                break
    finally:
        reading.cancel()
        writer.close()


async def measure(port: int, clients: int, rate: float, seconds: float) -> dict[str, object]:
    times: list[float] = []
    answers: dict[str, int] = {}
    until = time.perf_counter() + seconds
    steady_ones = [steady(port, rate, until, times) for _ in range(clients)]
    await asyncio.gather(flood(port, until, answers), *steady_ones)
    ordered = sorted(times)
    return {
        "round trips": len(ordered),
        "p50 ms": 1000 * statistics.median(ordered),
        "p99 ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "flood answered": answers.get("answered", 0),
        "flood refused": answers.get("refused", 0),
    }


def run(limited: bool, port: int, clients: int, rate: float, seconds: float) -> dict[str, object]:
    command = [sys.executable, "-m", "benchmarks.flood", "--serve", str(port)]
    if limited:
        command.append("--limited")
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while True:  # until it listens
            try:
                asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return asyncio.run(measure(port, clients, rate, seconds))
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flood", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="echoes a second per client")
    parser.add_argument("--port", type=int, default=3917)
    parser.add_argument("--quick", action="store_true", help="1 s, 10 clients: a smoke run")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--limited", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.limited)
        return 0
    if args.quick:
        args.seconds, args.clients = 1.0, 10
    results = {
        label: run(limited, args.port, args.clients, args.rate, args.seconds)
        for label, limited in (("no limit", False), (f"io.limit({LIMIT})", True))
    }
    names = list(next(iter(results.values())))
    print("| | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for label, figures in results.items():
        cells = [
            f"{value:.1f}" if isinstance(value, float) else str(value) for value in figures.values()
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
