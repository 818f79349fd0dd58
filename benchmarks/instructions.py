"""Instructions per operation, counted by callgrind: a measure that repeats to the instruction.

Wall-clock ratios on a shared 2-core machine move by 20-30% from run to run; the number of
CPU instructions the server executes for one operation does not. So every scenario here is
a fixed workload run twice under ``valgrind --tool=callgrind``, with ``n`` and ``3n``
operations: the difference of the two totals divided by ``2n`` is the cost of one
operation, with start-up, imports and connection set-up cancelled out.

The server is the real standalone front door (``serve.HTTPConnection`` and the
``WebSocketConnection`` it hands over to), fed client bytes through an in-memory transport
that records what the server writes: no sockets, no event-loop polling, no client-side
cost in the count. Client frames are masked with an all-zero key, as the load generator's.

Usage::

    python -m benchmarks.instructions                  # every scenario, a table
    python -m benchmarks.instructions --scenarios echo,fanout --record
    python -m benchmarks.instructions --workload echo --ops 200   # one run, no valgrind
    python -m benchmarks.instructions --profile echo   # where its instructions go, by layer
    python -m benchmarks.instructions --scenarios echo,floor-echo   # beside the floor

``floor-NAME`` runs the workload against ``benchmarks.floor``, a server that does no
Socket.IO at all (the least a Python asyncio server spends on the same bytes).

``app-NAME`` runs it through the front door of ``aiosio serve main:app``, ``main:app``
being a FastAPI app that mounts ``io`` at /socket.io (as benchmarks/servers/aiosio_app.py
``--fastapi`` serves it): the router found inside the app, and ``AppHTTPConnection``, which
tells Socket.IO requests from the app's, in place of ``HTTPConnection``. Beside ``NAME``,
it is what serving an application next to Socket.IO costs each Socket.IO operation.

``--record`` appends the figures, with the commit, to ``results/instructions.csv``: the
history against which a change is judged.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
HISTORY = BENCH_DIR / "results" / "instructions.csv"
FANOUT_RECIPIENTS = 100
_COLLECTED = re.compile(rb"Collected : (\d+)")


class MemoryTransport(asyncio.Transport):
    """What a TCP transport offers the front door, with writes recorded, not sent."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.protocol: Any = None
        self.written = 0  # bytes
        self.writes = 0
        self.chunks: list[bytes] = []
        self.keep = False  # keep the chunks (for handshakes), or only count them
        self._closing = False
        self._extra = {"peername": ("127.0.0.1", port), "sockname": ("127.0.0.1", 3000)}
        self.waiter: tuple[int, int, asyncio.Future[None]] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        self.written += len(data)
        if self.keep:
            self.chunks.append(bytes(data))
        waiter = self.waiter
        if waiter is not None and self.writes >= waiter[0] and self.written >= waiter[1]:
            self.waiter = None
            waiter[2].set_result(None)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    async def wait_writes(self, count: int, size: int = 0) -> None:
        """Return once ``count`` writes and ``size`` bytes in all have been written."""
        if self.writes >= count and self.written >= size:
            return
        future = asyncio.get_running_loop().create_future()
        self.waiter = (count, size, future)
        await future

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    abort = close

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol  # type: ignore[no-any-return]


def frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked FIN client frame with an all-zero masking key (the payload as it is)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


_UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: bench\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class Harness:
    """One server and the in-memory connections a workload opens on it."""

    def __init__(self, io: Any, front: Any = None) -> None:
        from aiosio.serve import HTTPConnection

        self.io = io
        self._connection: Callable[[Any], Any] = HTTPConnection
        if front is not None:  # the door of ``aiosio serve main:app``
            from functools import partial

            from aiosio.serve.asgi_app import AppHTTPConnection

            self._connection = partial(AppHTTPConnection, front=front)
        self._ports = iter(range(40000, 65000))

    def open(self) -> MemoryTransport:
        transport = MemoryTransport(next(self._ports))
        protocol = self._connection(self.io.router)
        transport.protocol = protocol
        protocol.connection_made(transport)
        return transport

    def send(self, transport: MemoryTransport, data: bytes) -> None:
        transport.protocol.data_received(data)

    async def websocket(self) -> MemoryTransport:
        """A WebSocket connected to the main namespace (101, open packet, CONNECT)."""
        transport = self.open()
        transport.keep = True
        self.send(transport, _UPGRADE)
        await transport.wait_writes(2)  # the 101, then the open packet
        self.send(transport, frame(b"40"))
        await transport.wait_writes(3)
        transport.keep = False
        transport.chunks.clear()
        return transport

    async def polling(self) -> tuple[MemoryTransport, MemoryTransport, str]:
        """A long-polling session connected to the main namespace: (GET side, POST side, sid)."""
        getter, poster = self.open(), self.open()
        getter.keep = True
        self.send(getter, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: b\r\n\r\n")
        await getter.wait_writes(1)
        body = b"".join(getter.chunks)
        found = re.search(rb'"sid":"([^"]+)"', body)
        assert found is not None, body
        sid = found.group(1).decode()
        await self.post(poster, sid, b"40")
        self.send(getter, get_request(sid))
        await getter.wait_writes(2)
        getter.keep = False
        return getter, poster, sid

    async def post(self, transport: MemoryTransport, sid: str, body: bytes) -> None:
        before = transport.writes
        self.send(transport, post_request(sid, body))
        await transport.wait_writes(before + 1)


def get_request(sid: str) -> bytes:
    return f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: b\r\n\r\n".encode()


def post_request(sid: str, body: bytes) -> bytes:
    head = (
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: b\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _echo_server(
    limited: bool | str = False, coroutines: bool = False, broadcast_acks: bool = False
) -> Any:
    """The benchmarks' server; ``limited`` (True, or one of "server", "event") adds rate
    limits on every event that never bite: what checking them costs."""
    import aiosio

    # No heartbeat: the clients here never answer a PING, and a run under callgrind lasts
    # longer than ping_interval (25 s), ping_timeout after it (45 s) on a loaded machine:
    # PINGs, then closed sessions, would be counted as the operations' work (a fan-out
    # counted 8,752 instructions per delivery instead of 17,390 under load).
    io = aiosio.Server(ping_interval=3600.0, ping_timeout=3600.0)
    if limited in (True, "server"):
        io.limit(events_per_s=1e9, burst=1e9)
    if limited is True:
        io.sockets.limit(per_s=1e9, burst=1e9)
    if limited in (True, "event"):
        io.sockets.limit("echo", per_s=1e9, burst=1e9)

    async def echo_coroutine(*args: Any) -> Any:  # an ``async def`` handler that never suspends
        return args[0] if len(args) == 1 else list(args)

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        if coroutines:
            socket.on("echo", echo_coroutine)
        else:
            socket.on("echo", lambda *args: args[0] if len(args) == 1 else list(args))
        socket.on("fan", lambda value: io.emit("tick", value))
        if broadcast_acks:  # only there: a handler more per connection costs every connect
            # A broadcast asking every recipient for an ack (never given: the ids pile up).
            socket.on("fan-ack", lambda value: io.emit("tick", value, callback=_unanswered))

    return io


def _unanswered(*args: Any) -> None:
    """The callback of a broadcast with acks that no recipient answers."""


async def echo(h: Harness, ops: int) -> None:
    """One socket, 10 acked events in flight (one read of 10 frames), answered in one flush."""
    ws = await h.websocket()
    batch = 10
    for start in range(0, ops, batch):
        data = b"".join(frame(b'42%d["echo",%d]' % (i, i)) for i in range(start, start + batch))
        writes = ws.writes
        h.send(ws, data)
        await ws.wait_writes(writes + 1)


async def echo_one(h: Harness, ops: int) -> None:
    """One socket, one acked event at a time: the whole cost of a round trip."""
    ws = await h.websocket()
    for i in range(ops):
        writes = ws.writes
        h.send(ws, frame(b'42%d["echo",%d]' % (i, i)))
        await ws.wait_writes(writes + 1)


async def fanout(h: Harness, ops: int, event: bytes = b"fan") -> None:
    """``io.emit`` to 100 sockets; an operation is one delivery (so ops/100 broadcasts)."""
    sockets = [await h.websocket() for _ in range(FANOUT_RECIPIENTS)]
    trigger = sockets[0]
    for i in range(ops // FANOUT_RECIPIENTS):
        last = sockets[-1]
        writes = last.writes
        h.send(trigger, frame(b'42["%s",%d]' % (event, i)))
        await last.wait_writes(writes + 1)


async def fanout_ack(h: Harness, ops: int) -> None:
    """``fanout``, each broadcast asking its 100 recipients for an ack (one id each)."""
    await fanout(h, ops, b"fan-ack")


async def connect(h: Harness, ops: int) -> None:
    """A new WebSocket to the main namespace: upgrade request, open packet, CONNECT."""
    for _ in range(ops):
        await h.websocket()


SPLIT = 16384  # bytes a read hands over when a large frame comes over TCP (16-64 KiB)


async def binary64k(h: Harness, ops: int, split: int | None = None) -> None:
    """One socket echoing a 64 KiB binary attachment with an ack; with ``split``, each
    send is cut into reads of that size, as TCP delivers a large frame."""
    ws = await h.websocket()
    blob = bytes(range(256)) * 256
    attachment = frame(blob, opcode=2)
    for i in range(ops):
        writes, size = ws.writes, ws.written
        data = frame(b'451-%d["echo",{"_placeholder":true,"num":0}]' % i) + attachment
        if split is None:
            h.send(ws, data)
        else:
            for at in range(0, len(data), split):
                h.send(ws, data[at : at + split])
        await ws.wait_writes(writes + 1, size + len(blob))


async def binary64k_split(h: Harness, ops: int) -> None:
    """``binary64k`` in 16 KiB reads: it counts the reassembly of a frame that spans
    several reads."""
    await binary64k(h, ops, SPLIT)


async def polling(h: Harness, ops: int) -> None:
    """A long-polling round trip: a held GET answered by an acked event POSTed."""
    getter, poster, sid = await h.polling()
    for i in range(ops):
        writes = getter.writes
        h.send(getter, get_request(sid))
        await h.post(poster, sid, b'42%d["echo",%d]' % (i, i))
        await getter.wait_writes(writes + 1)


WORKLOADS: dict[str, tuple[Callable[[Harness, int], Awaitable[None]], int, str]] = {
    # name: (workload, n (the runs do n and 3n), what one operation is)
    "echo": (echo, 400, "acked event, 10 in flight"),
    "echo-1": (echo_one, 200, "acked event, one at a time"),
    "fanout": (fanout, 2000, "delivery of a broadcast to 100"),
    "connect": (connect, 60, "WebSocket connect + namespace"),
    "bin64k": (binary64k, 40, "64 KiB binary echo with ack"),
    "bin64k-split": (binary64k_split, 40, "bin64k, each frame in 16 KiB reads"),
    "polling": (polling, 100, "long-polling round trip"),
    "echo+limit": (echo, 400, "echo, with permissive rate limits (server, namespace, event)"),
    "fanout+limit": (fanout, 2000, "fanout, with permissive rate limits"),
    "echo+server-limit": (echo, 400, "echo, with the server's rule only"),
    "echo+event-limit": (echo, 400, "echo, with a rule on the echo event only"),
    "fanout+ack": (fanout_ack, 2000, "delivery of a broadcast with acks to 100"),
    "echo+async": (echo, 400, "echo, the handler an ``async def`` that does not suspend"),
}


def server_for(name: str) -> Any:
    """The server the workload ``name`` runs against."""
    limited: bool | str = name.endswith("+limit")
    if name.endswith("-limit"):
        limited = name.rsplit("+", 1)[1].removesuffix("-limit")
    return _echo_server(
        limited=limited, coroutines=name.endswith("+async"), broadcast_acks=name == "fanout+ack"
    )


def app_front(io: Any) -> Any:
    """What ``aiosio serve main:app`` serves beside ``io``: a FastAPI app with a route,
    mounting ``io`` at /socket.io, found and set up as the command does (without the
    access log, as the benchmark server runs it)."""
    from fastapi import FastAPI

    from aiosio.serve.asgi_app import AppFront, AppOptions
    from aiosio.targets import find_served

    app = FastAPI()

    @app.get("/json")
    async def json_route() -> dict[str, str]:
        return {"message": "Hello, World!"}

    app.mount("/socket.io", io.asgi_app())
    served = find_served(app)
    assert served is not None and served.io is io, "io not found inside the app"
    io.router.mount_at(served.prefix)
    return AppFront(served.app, AppOptions(access_log=False))


async def _run(name: str, ops: int) -> None:
    workload = WORKLOADS[base(name)][0]
    io = server_for(base(name))
    front = app_front(io) if name.startswith(APP) else None
    await io.startup()
    try:
        await workload(Harness(io, front), ops)
    finally:
        await io.close()
        if front is not None:
            await front.close(0)


def run_workload(name: str, ops: int) -> None:
    if name.startswith("floor-"):
        from benchmarks.floor import run_floor

        asyncio.run(run_floor(base(name), ops))
    else:
        asyncio.run(_run(name, ops))


APP = "app-"  # the prefix of a scenario through the door of ``aiosio serve main:app``


def base(name: str) -> str:
    """The workload a scenario runs: ``floor-echo`` and ``app-echo`` run ``echo``."""
    return name.removeprefix("floor-").removeprefix(APP)


def known(name: str) -> bool:
    """Whether ``name`` is a workload, the floor of one that has a floor, or one through
    the door of ``aiosio serve main:app``."""
    from benchmarks.floor import FLOORS

    if name.startswith(APP):
        return base(name) in WORKLOADS
    return name in WORKLOADS or (name.startswith("floor-") and base(name) in FLOORS)


def callgrind(module: str, *args: str) -> int:
    """The instructions of one run of ``python -m module args`` under callgrind, with a
    fixed hash seed (string hashing would otherwise move the count from run to run)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            *("valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out"),
            *(sys.executable, "-m", module, *args),
        ]
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run(
            command, cwd=BENCH_DIR.parent, env=env, capture_output=True, check=False
        )
        found = _COLLECTED.search(done.stderr)
        if done.returncode != 0 or found is None:
            sys.stderr.write(done.stderr.decode(errors="replace")[-3000:])
            raise SystemExit(f"callgrind failed on {module} {' '.join(args)}")
        return int(found.group(1))


def count(name: str, ops: int) -> int:
    """The instructions of one whole run of ``name`` with ``ops`` operations."""
    return callgrind("benchmarks.instructions", "--workload", name, "--ops", str(ops))


def per_operation(name: str) -> float:
    n = WORKLOADS[base(name)][1]
    return (count(name, 3 * n) - count(name, n)) / (2 * n)


def commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "../src"],
        cwd=BENCH_DIR,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return done.stdout.strip() + ("+" if dirty else "")


def measure(names: list[str]) -> dict[str, float]:
    return {name: per_operation(name) for name in names}


def table(figures: dict[str, float]) -> str:
    lines = ["| scenario | instructions per operation | operation |", "| --- | ---: | --- |"]
    for name, value in figures.items():
        what = WORKLOADS[base(name)][2]
        if name.startswith(APP):
            what = f"{what}, through ``aiosio serve main:app`` (FastAPI mounting io)"
        elif name != base(name):
            what = f"{what}, against the floor (no Socket.IO)"
        lines.append(f"| {name} | {value:,.0f} | {what} |")
    return "\n".join(lines)


def record(figures: dict[str, float]) -> None:
    new = not HISTORY.exists()
    HISTORY.parent.mkdir(parents=True, exist_ok=True)
    with HISTORY.open("a", newline="") as file:
        writer = csv.writer(file)
        if new:
            writer.writerow(["date", "commit", "python", "scenario", "instructions_per_op"])
        date = datetime.date.today().isoformat()
        version = ".".join(map(str, sys.version_info[:3]))
        for name, value in figures.items():
            writer.writerow([date, commit(), version, name, f"{value:.0f}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated, of: {', '.join(WORKLOADS)} (floor-NAME, app-NAME too)",
    )
    parser.add_argument("--record", action="store_true", help=f"append to {HISTORY.name}")
    parser.add_argument("--profile", metavar="NAME", help="instructions by layer for one scenario")
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--ops", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload:  # one run, as callgrind's child
        if not known(args.workload):
            parser.error(f"unknown workload: {args.workload}")
        run_workload(args.workload, args.ops or WORKLOADS[base(args.workload)][1])
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.profile:
        if not known(args.profile):
            parser.error(f"unknown scenario: {args.profile}")
        from benchmarks.instructions_profile import profile

        print(profile(args.profile))
        return 0
    names = args.scenarios.split(",") if args.scenarios else list(WORKLOADS)
    unknown = [name for name in names if not known(name)]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    figures = measure(names)
    print(table(figures))
    if args.record:
        record(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
