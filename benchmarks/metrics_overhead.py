"""What the always-on counters cost: the engine's receive and flush paths, timed alone.

``python -m benchmarks.metrics_overhead`` drives an :class:`~aiosio.Server`
with no sockets: fake WebSocket transports (frames built as the standalone server builds
them) receive ``42["msg",1]`` packets, and a broadcast reaches 100 sockets and is flushed.
Run it before and after a change to the hot paths; the best of ``--repeat`` rounds is
printed in nanoseconds per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from aiosio.app import Server
from aiosio.engineio.wire import frames_of
from aiosio.server.engine import ServerSession
from aiosio.server.http import HTTPRequest


class FakeWebSocket:
    """A WebSocket that builds its frames and drops them."""

    def __init__(self) -> None:
        self.sent = 0

    def send_items(self, items: list[object]) -> None:
        self.sent += len(frames_of(items))

    def close(self, code: int = 1000) -> None:
        pass

    def buffered(self) -> int:
        return 0


def _request() -> HTTPRequest:
    return HTTPRequest("GET", "/socket.io/", {"EIO": "4", "transport": "websocket"}, {})


def _connect(io: Server) -> tuple[ServerSession, FakeWebSocket]:
    ws = FakeWebSocket()
    session = io.engine.open_websocket(_request(), ws)
    assert session is not None
    io.engine.websocket_message(session, ws, "40")
    return session, ws


def _best(run: Callable[[], None], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - start) / count)
    return best


async def measure(count: int, repeat: int, only: str | None = None) -> dict[str, float]:
    io = Server(serve_client=False)
    received = 0

    def on_connection(socket: Any) -> None:
        def on_msg(value: Any) -> None:
            nonlocal received
            received += 1

        socket.on("msg", on_msg)

    io.on("connection", on_connection)
    session, ws = _connect(io)
    peers = [_connect(io) for _ in range(99)]
    engine = io.engine
    await asyncio.sleep(0)

    def receive() -> None:
        message = engine.websocket_message
        for _ in range(count):
            message(session, ws, '42["msg",1]')

    broadcasts = max(count // 100, 1)

    def broadcast() -> None:
        for _ in range(broadcasts):
            io.emit("news", "hello", 1)
            engine._flush_all()  # what the loop's call_soon would run

    results = {}
    if only in (None, "receive"):
        results["receive one packet (ns)"] = _best(receive, count, repeat)
    if only in (None, "broadcast"):
        recipients = broadcasts * (len(peers) + 1)
        results["broadcast to 100 + flush (ns per recipient)"] = _best(
            broadcast, recipients, repeat
        )
    await io.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics_overhead")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", choices=("receive", "broadcast"))
    args = parser.parse_args(argv)
    for name, value in asyncio.run(measure(args.count, args.repeat, args.only)).items():
        print(f"{name:<48} {value:8.1f}")


if __name__ == "__main__":
    main()
