"""Presence and room history against doing without: ``python -m benchmarks.presence_history``.

Driven like :mod:`benchmarks.metrics_overhead`: an :class:`~aiosio.Server` whose sockets
sit on fake WebSocket transports (frames built and counted, then dropped), so what is
measured is the server's own work.

* **Fan-out with history on and off**: 100 sockets in a room, broadcasts flushed one by
  one; nanoseconds per recipient, best of ``--repeat`` rounds, and the ratio (the target:
  history costs under 10 %).
* **10,000 members joining one room**: with presence (``interval`` 1 s, diffs pushed to
  the room), against the naive way, every join broadcast to the room. Reported: the
  server's CPU time, the frames sent and the diffs delivered. The naive run is measured
  on fewer members (its cost grows with the square); the frames it would send for the
  full count are computed.

``--quick`` is a smoke run (a few hundred members, few broadcasts).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from aiosio.app import Server
from aiosio.server.http import HTTPRequest
from benchmarks.metrics_overhead import FakeWebSocket, _connect


class CountingWebSocket(FakeWebSocket):
    """Counts the packets (WebSocket messages) and the bytes the server sends."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = 0

    def send_items(self, items: list[object]) -> None:
        self.messages += len(items)
        super().send_items(items)  # ``sent``: bytes of frames


def _join(io: Server) -> CountingWebSocket:
    ws = CountingWebSocket()
    request = HTTPRequest("GET", "/socket.io/", {"EIO": "4", "transport": "websocket"}, {})
    session = io.engine.open_websocket(request, ws)
    assert session is not None
    io.engine.websocket_message(session, ws, "40")
    return ws


async def fanout(history: bool, broadcasts: int, repeat: int) -> float:
    """Nanoseconds per recipient of a broadcast to a room of 100 (flushed each time)."""
    io = Server(serve_client=False)
    if history:
        io.sockets.history("room", max_len=100)
    io.on("connection", lambda socket: socket.join("room"))
    peers = [_connect(io) for _ in range(100)]
    await asyncio.sleep(0)
    engine = io.engine
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter_ns()
        for n in range(broadcasts):
            io.to("room").emit("news", "hello", n)
            engine._flush_all()  # what the loop's call_soon would run
        best = min(best, (time.perf_counter_ns() - start) / (broadcasts * len(peers)))
    await io.close()
    return best


async def joins(members: int, naive: bool) -> dict[str, float]:
    """``members`` sockets connect and join one room; what it cost and what was sent."""
    if naive:
        io = Server(serve_client=False)

        def on_connection(socket: Any) -> None:
            socket.join("big")
            socket.to("big").emit("joined", socket.id)

    else:
        io = Server(serve_client=False, presence={"interval": 1.0, "event": "presence"})

        def on_connection(socket: Any) -> None:
            socket.join("big")

    io.on("connection", on_connection)
    peers: list[CountingWebSocket] = []
    gc.collect()
    cpu = time.process_time()
    wall = time.perf_counter()
    for _ in range(members):
        peers.append(_join(io))
        io.engine._flush_all()
    diffs: list[int] = []
    if io.sockets.presence is not None:
        io.sockets.on("presence", lambda room, joined, left: diffs.append(len(joined)))
        await asyncio.sleep(1.05)  # the one timer of the namespace fires
        io.engine._flush_all()
    # Each peer got its OPEN and CONNECT packets (2) whatever the way; the rest is news.
    result = {
        "server cpu (s)": time.process_time() - cpu,
        "wall (s)": time.perf_counter() - wall,
        "messages sent (beyond open+connect)": sum(ws.messages - 2 for ws in peers),
        "bytes sent": sum(ws.sent for ws in peers),
        "diffs (members in them)": sum(diffs),
    }
    await io.close()
    return result


async def run(quick: bool, repeat: int) -> None:
    broadcasts = 200 if quick else 5_000
    off = await fanout(False, broadcasts, repeat)
    on = await fanout(True, broadcasts, repeat)
    print(f"fan-out to 100, history off   {off:8.1f} ns per recipient")
    print(f"fan-out to 100, history on    {on:8.1f} ns per recipient ({on / off - 1:+.1%})")
    members = 300 if quick else 10_000
    naive_members = 100 if quick else 2_000
    with_presence = await joins(members, naive=False)
    naive = await joins(naive_members, naive=True)
    print(f"\n{members} members joining one room, presence diffs (interval 1 s):")
    for name, value in with_presence.items():
        print(f"  {name:<38} {value:14,.2f}")
    print(f"\n{naive_members} members joining, every join broadcast to the room (naive):")
    for name, value in naive.items():
        print(f"  {name:<38} {value:14,.2f}")
    would = members * (members - 1) // 2
    print(f"  the naive way for {members}: {would:,} 'joined' messages")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.presence_history")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    asyncio.run(run(args.quick, 1 if args.quick else args.repeat))


if __name__ == "__main__":
    main()
